"""Helpers shared by the browser tests and their fixtures (conftest.py).

A module of its own because test modules cannot import `conftest` reliably: tests/conftest.py
has the same module name.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}


def load_serve_web():
    """scripts/serve_web.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("serve_web", REPO / "scripts" / "serve_web.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path))
    return path
