"""The product images install the lock less the test and check tools (deploy/runtime_requirements.py)."""
from __future__ import annotations

import importlib.metadata as metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))

import runtime_requirements as rr  # noqa: E402  (deploy/ is not a package)

REQUIREMENTS_IN = (ROOT / "requirements.in").read_text()
LOCK = (ROOT / "requirements.lock").read_text()


def runtime_names() -> set[str]:
    return {rr.canonical(m.group(1)) for line in rr.runtime_lines(REQUIREMENTS_IN, LOCK) if (m := rr._NAME.match(line))}


def test_the_images_ship_no_test_plugin_browser_driver_or_linter():
    shipped = runtime_names()
    for tool in ("pytest-asyncio", "pytest-xdist", "playwright", "hypothesis", "ruff", "mypy"):
        assert tool not in shipped, tool
    for needed in ("rasa", "rasa-sdk", "spacy", "medspacy", "django", "limits", "sqlalchemy"):
        assert needed in shipped, needed


def test_nothing_the_images_ship_needs_what_was_left_out():
    left_out = rr.test_only(REQUIREMENTS_IN)
    assert left_out, "requirements.in lost its '# tests' and '# checks' sections"
    for name in runtime_names():
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement:
                continue  # an optional extra the images do not install
            wanted = rr.canonical(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0])
            assert wanted not in left_out, f"{name} needs {wanted}, which the images leave out"


def test_both_python_images_install_through_it():
    for image in ("rasa", "actions"):
        dockerfile = (ROOT / "deploy" / f"{image}.Dockerfile").read_text()
        assert "runtime_requirements.py /tmp/requirements.in /tmp/requirements.lock > /tmp/runtime.txt" in dockerfile
        assert "-r /tmp/runtime.txt" in dockerfile and "-r /tmp/requirements.lock" not in dockerfile
