"""The production shape (endpoints.production.yml) against this machine's real PostgreSQL and
Redis: one stack for the whole session (two Sanic workers, the action server on its own, every
messaging channel switched on with made-up credentials), in a fresh database that is dropped at
the end, under its own Redis key prefix. scripts/faults/ holds the checks; the tests here run
them and assert what a patient or the clinic would notice.

Tests that restart PostgreSQL or stop Redis leave both running again, whatever happens."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from faults import hostile_requests  # noqa: E402
from faults.production_stack import (  # noqa: E402
    ProductionStack, ensure_postgres_running, services_missing, start_redis,
)


def pytest_configure(config):
    config.addinivalue_line("markers", "production: the production shape against real PostgreSQL and Redis")


@pytest.fixture(scope="session")
def production_stack(tmp_path_factory):
    missing = services_missing()
    if missing:
        pytest.skip(f"{missing}: the production tests need the machine's PostgreSQL and Redis")
    import dev

    model = dev.train()
    stack = ProductionStack(workers=2, model=model, with_review=True, retry_seconds=15,
                            extra_env=hostile_requests.CHANNELS_ON, logs=tmp_path_factory.mktemp("production"))
    try:
        stack.start()
        yield stack
    finally:
        stack.close()
        ensure_postgres_running()
        start_redis()
