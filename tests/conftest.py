"""Shared fixtures. `bot_stack` starts the real product on free local ports (scripts/stack.py): the
trained model in a Rasa server, the action server over real HTTP, the web chat page, and an SQLite
tracker store in a temporary folder."""
from __future__ import annotations

import functools
import inspect
import re
import sys
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import dev  # noqa: E402,F401  (scripts/dev.py: the same commands ./dev run uses; tests import it from here)
from stack import BotStack, free_port, running_stack  # noqa: E402,F401  (scripts/stack.py, after the path set-up)


@pytest.fixture(scope="session")
def bot_stack(tmp_path_factory) -> Iterator[BotStack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack


@pytest.fixture
def bot(bot_stack: BotStack) -> BotStack:
    """The running stack, with the action server up (a test may have stopped it)."""
    bot_stack.start("action server")
    return bot_stack


# --- NLU components built outside a trained model (as Rasa's own tests do) -----------------

@pytest.fixture()
def default_model_storage(tmp_path):
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    return LocalModelStorage(tmp_path)


@pytest.fixture()
def default_execution_context():
    import uuid

    from rasa.engine.graph import ExecutionContext, GraphSchema

    return ExecutionContext(GraphSchema({}), uuid.uuid4().hex)


@pytest.fixture()
def make_component(default_model_storage, default_execution_context):
    """make_component(SomeComponent, {"key": value}): created from its defaults plus config."""
    from rasa.engine.storage.resource import Resource

    def create(component, config=None):
        return component.create({**component.get_default_config(), **(config or {})}, default_model_storage,
                                Resource(component.__name__), default_execution_context)

    return create


@pytest.fixture(scope="session")
def local_postgres():
    """A throwaway PostgreSQL for the session (scripts/faults/local_services.py: the installed
    binaries, a temporary folder, a free port), removed at the end. The machine's own PostgreSQL
    is never touched."""
    from faults.local_services import LocalPostgres, missing

    if missing():
        pytest.skip(missing())
    postgres = LocalPostgres().start()
    try:
        yield postgres
    finally:
        postgres.stop()


# --- Test tiers ---------------------------------------------------------------------------------
# Each test is marked here, when it is collected, with what it needs (markers: pyproject.toml), so
# no test file has to remember. `./dev test --fast` runs the tests that need none of them.
#   model       the trained model: the bot fixtures, a test that calls dev.train() / Agent.load(), or
#               trains or loads the learned red-flag net on the repository's corpus (as rasa train does)
#   servers     real servers: the bot stack, PostgreSQL or Redis (local_postgres, scripts/faults)
#   browser     Playwright and Debian's chromium
#   production  everything in tests/production
# A fixture counts by where it is defined (the channel tests have a fake `bot` of their own), also
# when a test or one of its fixtures asks for it by name (request.getfixturevalue). A fixture
# parametrized over databases (the booking `store`) needs a server only for its PostgreSQL or
# Redis params.
TIER_FIXTURES = {
    ("tests/conftest.py", "bot_stack"): ("model", "servers"),
    ("tests/conftest.py", "bot"): ("model", "servers"),
    ("tests/conftest.py", "local_postgres"): ("servers",),
    ("tests/production/conftest.py", "services"): ("servers",),
    ("tests/production/conftest.py", "production_stack"): ("model", "servers"),
    ("tests/browser/conftest.py", "browser"): ("browser",),
    ("tests/test_red_flag_component.py", "trained_storage"): ("model",),  # trains on the whole corpus
}
TIER_FOLDERS = {"tests/production": ("production",), "tests/e2e": ("model", "servers")}
TIER_OF_MARKER = {"e2e": ("model", "servers"), "browser": ("browser",), "production": ("production",)}
NEEDS_THE_MODEL = re.compile(r"\bdev\.train\(|\bAgent\.load\(|\bdev\.MODEL\b|\blearned\.default_model\(")
ASKED_BY_NAME = re.compile(r"getfixturevalue\(\s*[\"'](\w+)[\"']")
SERVER_PARAM = re.compile(r"postgres|redis", re.IGNORECASE)


@functools.lru_cache(maxsize=None)
def _code_of(function) -> tuple[str, str]:
    """(file relative to the repository, source) of a test or fixture function; ("", "") for
    code outside the repository's tests (pytest's own fixtures, plugins)."""
    function = inspect.unwrap(function)
    try:
        path = Path(inspect.getsourcefile(function) or "").resolve()
        if ROOT / "tests" not in path.parents:
            return "", ""
        return path.relative_to(ROOT).as_posix(), inspect.getsource(function)
    except (OSError, TypeError):
        return "", ""


def _tiers(item: pytest.Item) -> set[str]:
    tiers: set[str] = set()
    relative = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
    for folder, folder_tiers in TIER_FOLDERS.items():
        if relative.startswith(folder + "/"):
            tiers.update(folder_tiers)
    for mark in item.iter_markers():
        tiers.update(TIER_OF_MARKER.get(mark.name, ()))

    params = getattr(getattr(item, "callspec", None), "params", {})
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    used = [defs[-1] for defs in definitions.values() if defs]  # the definition this test gets
    sources = [_code_of(getattr(item, "obj", None))[1]] if callable(getattr(item, "obj", None)) else []
    for fixture in used:
        if fixture.argname in params:  # parametrized: judged by this test's param, not its code
            if SERVER_PARAM.search(str(params[fixture.argname])):
                tiers.add("servers")
            continue
        sources.append(_code_of(fixture.func)[1])
    for source in sources:
        if NEEDS_THE_MODEL.search(source):
            tiers.add("model")
        for name in ASKED_BY_NAME.findall(source):
            used.extend(item.session._fixturemanager.getfixturedefs(name, item.nodeid) or ())
    for fixture in used:
        tiers.update(TIER_FIXTURES.get((_code_of(fixture.func)[0], fixture.argname), ()))
    return tiers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for tier in sorted(_tiers(item)):
            item.add_marker(tier)
