"""The locked packages a product image installs: requirements.lock less what only the tests and
the checks use (the packages requirements.in lists under "# tests" and "# checks").

    python deploy/runtime_requirements.py requirements.in requirements.lock > runtime.txt

Packages that only those pull in stay (removing them is not worth a second lock); the test
frameworks, the browser driver and the linters do not ship. tests/test_runtime_requirements.py
checks that nothing left needs what was taken out.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SECTIONS = ("# tests", "# checks")
# Listed under tests, but a runtime package declares it as a requirement, and the images run
# `pip check`: medspacy-quickumls (a dependency of medspacy) requires pytest.
REQUIRED_AT_RUNTIME = frozenset({"pytest"})
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_only(requirements_in: str) -> set[str]:
    names: set[str] = set()
    inside = False
    for line in requirements_in.splitlines():
        if line.startswith("#"):
            inside = line.strip().lower() in SECTIONS
            continue
        match = _NAME.match(line)
        if inside and match:
            names.add(canonical(match.group(1)))
    return names - REQUIRED_AT_RUNTIME


def runtime_lines(requirements_in: str, lock: str) -> list[str]:
    leave_out = test_only(requirements_in)
    kept = []
    for line in lock.splitlines():
        match = _NAME.match(line)
        if match and canonical(match.group(1)) in leave_out:
            continue
        kept.append(line)
    return kept


def main(argv: list[str]) -> int:
    requirements_in, lock = (Path(arg).read_text() for arg in argv[1:3])
    print("\n".join(runtime_lines(requirements_in, lock)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
