"""The review tool's image copies only part of `bot/`: every module the tool imports must be in it,
or the staff tool fails at start in production while every test here passes."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bot_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bot" and node.level == 0:
            if node.module == "bot":
                names |= {f"bot.{alias.name}" for alias in node.names}
            else:
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.split(".")[0] == "bot"}
    return names


def module_file(name: str) -> Path:
    base = ROOT / Path(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def test_review_image_copies_every_bot_module_the_tool_imports():
    needed: set[str] = set()
    todo = set().union(*(bot_imports(p) for p in (ROOT / "review").rglob("*.py")))
    assert todo, "the review tool imports nothing from bot/: this test would prove nothing"
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        todo |= bot_imports(module_file(name)) - needed
    dockerfile = (ROOT / "deploy" / "review.Dockerfile").read_text()
    copied = {p for line in re.findall(r"^COPY (bot/.*)$", dockerfile, re.M) for p in line.split()[:-1]}
    missing = sorted(str(module_file(n).relative_to(ROOT)) for n in needed)
    missing = [m for m in missing if m not in copied]
    assert not missing, f"deploy/review.Dockerfile does not copy {missing}"
