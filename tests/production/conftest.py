"""The production shape (endpoints.production.yml) against real PostgreSQL and Redis servers that
the tests start themselves (scripts/faults/local_services.py: the installed binaries, a temporary
folder, free ports) and remove at the end: one stack for the whole session (two Sanic workers,
the action server on its own, every messaging channel switched on with made-up credentials).
scripts/faults/ holds the checks; the tests here run them and assert what a patient or the clinic
would notice. The machine's own PostgreSQL and Redis are never touched."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from faults import hostile_requests  # noqa: E402
from faults.production_stack import ProductionStack, local_services, services_missing  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "production: the production shape against real PostgreSQL and Redis")


@pytest.fixture(scope="session")
def services():
    """Throwaway PostgreSQL and Redis for the whole session."""
    missing = services_missing()
    if missing:
        pytest.skip(f"{missing}: the production tests start their own PostgreSQL and Redis")
    with local_services() as started:
        yield started


@pytest.fixture(scope="session")
def production_stack(services, tmp_path_factory):
    import dev

    model = dev.train()
    stack = ProductionStack(workers=2, model=model, with_review=True, retry_seconds=15,
                            extra_env=hostile_requests.CHANNELS_ON, logs=tmp_path_factory.mktemp("production"))
    try:
        stack.start()
        yield stack
    finally:
        stack.close()
