"""The production profile is chosen and configured by environment variables alone, never by
editing a file: the launcher's local defaults cover every variable endpoints.production.yml
needs, the environment overrides them, secrets come only from the environment, and the
deployment files (Dockerfiles, compose, Helm values) agree with it. No server is started here."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from rasa.core.utils import AvailableEndpoints

import dev

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENDPOINTS = ROOT / "endpoints.production.yml"
DEPLOY = ROOT / "deploy"


def flag(command: list[str], name: str) -> str:
    """The value of `--name=value` in a command line."""
    return next(arg.split("=", 1)[1] for arg in command if arg.startswith(f"{name}="))


def has_flag(command: list[str], name: str) -> bool:
    return any(arg == name or arg.startswith(f"{name}=") for arg in command)


def variables_in(path: Path) -> set[str]:
    lines = [line.split("#", 1)[0] for line in path.read_text().splitlines()]
    return set(re.findall(r"\$\{([A-Z0-9_]+)\}", "\n".join(lines)))


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("RASA_PROFILE", "RASA_API_TOKEN", "RASA_JWT_SECRET", "RASA_JWT_METHOD",
                 *variables_in(PRODUCTION_ENDPOINTS), *dev.production_env(environ={})):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_launcher_sets_every_variable_the_production_endpoints_need(clean_env):
    for name, value in dev.production_env(actions_port=6055).items():
        clean_env.setenv(name, value)

    endpoints = AvailableEndpoints.read_endpoints(str(PRODUCTION_ENDPOINTS))

    assert variables_in(PRODUCTION_ENDPOINTS) <= set(dev.production_env())
    assert endpoints.tracker_store.type == "components.durable_tracker_store.DurableSQLTrackerStore"
    assert endpoints.tracker_store.url == "postgresql://postgres@127.0.0.1:5432/upwell"
    assert endpoints.lock_store.type == "redis"
    assert (endpoints.lock_store.url, endpoints.lock_store.kwargs["port"]) == ("127.0.0.1", "6379")
    assert endpoints.action.url == "http://127.0.0.1:6055/webhook"


def test_the_environment_chooses_the_databases_and_redis_without_editing_a_file(clean_env):
    clean_env.setenv("TRACKER_DB_URL", "postgresql://bot:s3cret@db.internal:5432/clinic")
    clean_env.setenv("REDIS_HOST", "redis.internal")
    clean_env.setenv("SANIC_WORKERS", "4")
    settings = dev.production_env()
    for name, value in settings.items():
        clean_env.setenv(name, value)

    endpoints = AvailableEndpoints.read_endpoints(str(PRODUCTION_ENDPOINTS))

    assert endpoints.tracker_store.url == "postgresql://bot:s3cret@db.internal:5432/clinic"
    assert endpoints.lock_store.url == "redis.internal"
    assert settings["SANIC_WORKERS"] == "4"
    assert int(settings["SANIC_BACKLOG"]) >= 1024, "Rasa's default backlog of 100 drops patients at 200 at once"
    assert settings["REVIEW_DB_URL"].startswith("postgresql://"), "the review tool uses PostgreSQL too"


def served(command: list[str], environ: dict) -> list[str]:
    """The arguments `rasa` gets from `python -m channels.serve ...` in that environment."""
    from channels.serve import rasa_arguments

    after = command[command.index("channels.serve") + 1:]
    settings = dict(arg.split("=", 1) for arg in command[1:command.index("channels.serve") - 2] if "=" in arg)
    return rasa_arguments(after, {**environ, **settings})


def test_production_turns_the_http_api_on_only_with_a_token_or_jwt_from_the_environment(clean_env):
    def rasa_command() -> list[str]:
        return dict((name, command) for name, command, _ in dev.service_commands(production=True))["Rasa server"]

    command = rasa_command()
    assert "--enable-api" not in served(command, {}) and not has_flag(served(command, {}), "--auth-token")
    assert "endpoints.production.yml" in command and "deploy/credentials.production.yml" in command

    clean_env.setenv("RASA_API_TOKEN", "-token-from-env")  # a leading "-" must not read as a flag
    command = rasa_command()
    assert not any("-token-from-env" in arg for arg in command)  # never on a command line (ps)
    args = served(command, {"RASA_API_TOKEN": "-token-from-env"})
    assert flag(args, "--auth-token") == "-token-from-env" and "--enable-api" in args

    args = served(rasa_command(), {"RASA_JWT_SECRET": "jwt-from-env"})
    assert flag(args, "--jwt-secret") == "jwt-from-env" and not has_flag(args, "--auth-token")


def test_the_default_profile_is_unchanged_and_keeps_its_token_off_the_command_line(clean_env):
    command = dict((name, command) for name, command, _ in dev.service_commands())["Rasa server"]
    assert command[command.index("--endpoints") + 1] == "endpoints.yml"
    assert command[command.index("--credentials") + 1] == "credentials.yml"
    assert command[command.index("--interface") + 1] == "127.0.0.1"  # development servers on loopback
    assert not any(dev.api_token() in arg for arg in command)  # `ps` shows command lines to every user
    args = served(command, {})
    assert "--enable-api" in args and flag(args, "--auth-token") == dev.api_token()


def test_production_channels_are_the_default_ones():
    """One channel layer for both profiles: the hardened REST channel in the default one too."""
    default = yaml.safe_load((ROOT / "credentials.yml").read_text())
    production = yaml.safe_load((DEPLOY / "credentials.production.yml").read_text())
    assert "channels.rest.AcknowledgedRestInput" in production
    assert production == default


def test_compose_runs_every_process_with_the_variables_the_endpoints_need():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "rasa", "actions", "review"} <= set(services)
    rasa_env = services["rasa"]["environment"]
    assert variables_in(PRODUCTION_ENDPOINTS) <= set(rasa_env)
    assert int(rasa_env["SANIC_WORKERS"]) >= 2
    assert int(rasa_env["SANIC_BACKLOG"]) >= 1024, "Rasa's default backlog of 100 drops patients at 200 at once"
    assert services["rasa"]["environment"]["TRACKER_DB_URL"] == services["review"]["environment"]["TRACKER_DB_URL"]
    for name in ("rasa", "actions", "review"):
        dockerfile = DEPLOY / Path(services[name]["build"]["dockerfile"]).name
        assert dockerfile.exists(), f"{name} has its own Dockerfile"
    # Secrets are never written into the compose file: only ${VAR} references.
    text = (DEPLOY / "compose.yaml").read_text()
    for secret in ("POSTGRES_PASSWORD", "RASA_API_TOKEN", "REVIEW_SECRET_KEY"):
        assert re.search(rf"{secret}: \$\{{{secret}[:?]", text), f"{secret} comes from the environment"


def test_dockerfiles_install_the_locked_dependencies_on_python_3_10():
    for name in ("rasa", "actions", "review"):
        text = (DEPLOY / f"{name}.Dockerfile").read_text()
        assert re.search(r"^FROM python:3\.10[.\d]*-slim", text, re.M), name
        assert "requirements.lock" in text, name
        assert re.search(r"^USER (?!root)", text, re.M), f"{name} does not run as root"


def test_helm_values_give_rasas_chart_the_production_stores():
    values = yaml.safe_load((DEPLOY / "helm" / "rasa-values.yaml").read_text())
    endpoints = values["applicationSettings"]["endpoints"]
    assert endpoints["trackerStore"]["type"] == "components.durable_tracker_store.DurableSQLTrackerStore"
    assert endpoints["lockStore"]["enabled"] is True and endpoints["lockStore"]["type"] == "redis"
    env = {item["name"]: item for item in values["extraEnv"]}
    assert int(env["SANIC_WORKERS"]["value"]) >= 2
    assert int(env["SANIC_BACKLOG"]["value"]) >= 1024
    assert "secretKeyRef" in env["TRACKER_DB_URL"]["valueFrom"]
    actions = yaml.safe_load((DEPLOY / "helm" / "action-server-values.yaml").read_text())
    assert actions["replicaCount"] >= 2


def entrypoint_command(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """What the server gets from deploy/rasa-entrypoint.sh: the command line it runs (stand-ins for
    `python` and `rasa` print it), and for `serve` the arguments channels/serve.py gives `rasa`
    from the environment."""
    for name in ("python", "rasa"):
        fake = tmp_path / name
        fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
        fake.chmod(0o755)
    environ = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", **env}
    done = subprocess.run(["sh", str(DEPLOY / "rasa-entrypoint.sh"), *args], env=environ,
                          capture_output=True, text=True, check=True, timeout=30)
    line = done.stdout.splitlines()
    if line[:2] != ["-m", "channels.serve"]:
        return line
    assert not any(secret in arg for arg in line for secret in env.values() if "secret" in secret or "t0ken" in secret)
    from channels.serve import rasa_arguments

    return rasa_arguments(line[2:], env)


def test_the_rasa_image_turns_the_api_on_only_with_a_secret_from_the_environment(tmp_path):
    command = entrypoint_command(tmp_path)
    assert command[:2] == ["run", "--model"] and "--enable-api" not in command
    assert command[command.index("--endpoints") + 1] == "endpoints.production.yml"

    command = entrypoint_command(tmp_path, RASA_API_TOKEN="-t0ken", ALLOWED_ORIGINS="https://a.example,https://b.example")
    assert "--enable-api" in command and flag(command, "--auth-token") == "-t0ken"
    assert command[command.index("--cors") + 1:command.index("--cors") + 3] == ["https://a.example", "https://b.example"]

    command = entrypoint_command(tmp_path, RASA_JWT_SECRET="jwt-secret", RASA_ENDPOINTS="/app/endpoints.yml")
    assert flag(command, "--jwt-secret") == "jwt-secret" and not has_flag(command, "--auth-token")
    assert command[command.index("--endpoints") + 1] == "/app/endpoints.yml"

    assert entrypoint_command(tmp_path, "shell", "--debug") == ["shell", "--debug"]


def test_the_production_web_page_makes_the_widget_use_websockets_only(clean_env):
    # With several workers, socket.io's long-polling requests would land on different workers.
    def page(production: bool) -> list[str]:
        return dict((n, c) for n, c, _ in dev.service_commands(production=production))["web chat page"]

    assert "--websocket-only" in page(True) and "--websocket-only" not in page(False)
    from serve_web import widget_config
    assert widget_config("http://localhost:5005", "(03) 7010 1234", "session", True)["transports"] == ["websocket"]
