"""The work behind ./dev: train when needed, run the whole product, run every test.

Run through ./dev, which first makes sure .venv exists with the locked dependencies.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = ROOT / ".venv" / "bin"
MODEL_NAME = "triage"
MODEL = ROOT / "models" / f"{MODEL_NAME}.tar.gz"
FINGERPRINT = ROOT / "models" / f"{MODEL_NAME}.fingerprint"
# What a trained model depends on. Most custom components are not trained (their rules are read
# at run time), so changing bot/ code needs no retraining; but the classifiers learn from the
# features TriageFactsFeaturizer makes out of the entity rules (one column per value), so a change
# to those rules or that featurizer must retrain, or the model would read columns it never saw.
# The same holds for the learned red-flag net, which reads the red-flag rules' facts (bot/redflags).
TRAINING_INPUTS = (
    "config.yml",
    "domain.yml",
    "data",
    "bot/entity_patterns.yml",
    "bot/entities.py",
    "bot/redflags",
    "components/triage_facts_featurizer.py",
    "components/red_flags.py",
)

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's start-up chatter hides the useful lines
    "PYTHONUNBUFFERED": "1",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}


def env(**extra: str) -> dict:
    merged = {**os.environ, **QUIET_ENV, **extra}
    # The Rasa server sends it (endpoints.yml) and the action server checks it (actions/server.py)
    merged.setdefault("ACTION_SERVER_TOKEN", action_server_token())
    # The web chat signs the sessions it issues (channels/sessions.py): kept, so a restart keeps them
    merged.setdefault("WEBCHAT_SESSION_SECRET", machine_secret("WEBCHAT_SESSION_SECRET", "webchat-session-secret"))
    merged["PATH"] = f"{VENV_BIN}{os.pathsep}{merged.get('PATH', '')}"
    merged["PYTHONPATH"] = str(ROOT)
    return merged


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def training_fingerprint() -> str:
    from importlib.metadata import version

    digest = hashlib.sha256(f"rasa {version('rasa')}".encode())
    for name in TRAINING_INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def prepare() -> None:
    """Everything the bot needs that the project builds itself."""
    secure_var()
    from bot import spacy_model

    if not (spacy_model.DEFAULT_PATH / "meta.json").exists():
        say("Building the spaCy pipeline (blank English + lookup lemmas) in var/spacy")
        subprocess.run([sys.executable, "-m", "bot.spacy_model"], cwd=ROOT, env=env(), check=True)


def secure_var() -> None:
    """var/ holds transcripts, booking requests (names, phones) and staff sessions: 0700, and its
    databases and secrets 0600, also when an older checkout made them readable by everyone.
    (./dev also sets umask 077, so what the servers create later is private too.)"""
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    var.chmod(0o700)
    for path in var.iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o600)


def train(force: bool = False) -> Path:
    prepare()
    MODEL.parent.mkdir(exist_ok=True)
    # One training at a time: a second caller waits, then finds the model up to date.
    with open(MODEL.parent / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fingerprint = training_fingerprint()
        if not force and MODEL.exists() and FINGERPRINT.exists() and FINGERPRINT.read_text() == fingerprint:
            say(f"Model is up to date: {MODEL.relative_to(ROOT)}")
            return MODEL
        say("Training the model (training data, domain or config changed)")
        started = time.monotonic()
        subprocess.run(
            [str(VENV_BIN / "rasa"), "train", "--fixed-model-name", MODEL_NAME, "--out", "models", "--force"],
            cwd=ROOT,
            env=env(),
            check=True,
        )
        FINGERPRINT.write_text(fingerprint)
        say(f"Trained in {time.monotonic() - started:.0f} s: {MODEL.relative_to(ROOT)}")
        return MODEL


def wait_for(url: str, seconds: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return True
        except Exception:
            time.sleep(0.5)
    return False


def machine_secret(variable: str, file_name: str) -> str:
    """The variable's value, or a secret made for this machine and kept in var/ (readable by this
    user only)."""
    token = os.environ.get(variable)
    if token:
        return token
    path = ROOT / "var" / file_name
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def action_server_token() -> str:
    """The secret shared by the Rasa server and the action server."""
    return machine_secret("ACTION_SERVER_TOKEN", "action-server-token")


def api_token() -> str:
    """The Rasa HTTP API is only ever on with a token."""
    return machine_secret("RASA_API_TOKEN", "rasa-api-token")


def allowed_origins(web_port: int) -> str:
    return os.environ.get("ALLOWED_ORIGINS", f"http://localhost:{web_port},http://127.0.0.1:{web_port}")


def api_environment(production: bool = False) -> list[str]:
    """The Rasa HTTP API is on only with a token or a JWT secret, and no secret is ever on a
    command line (`ps` shows command lines to every local user): channels/serve.py reads them
    inside the server. The default profile points it at this machine's token file (api_token);
    production passes RASA_API_TOKEN or RASA_JWT_SECRET from its own environment and leaves the
    API off when neither is set."""
    if production:
        return []
    api_token()  # made if missing
    return [f"RASA_API_TOKEN_FILE={ROOT / 'var' / 'rasa-api-token'}"]


def service_commands(
    rasa_port=5005,
    actions_port=5055,
    web_port=8080,
    review_port=8000,
    endpoints="endpoints.yml",
    model=MODEL,
    *,
    production: bool = False,
) -> list[tuple[str, list[str], str]]:
    """(name, command, readiness URL) for every process of the product, in start order.

    With production=True the Rasa server uses endpoints.production.yml (unless `endpoints` names
    another file) and the production channels; run it with production_env(...) in its
    environment."""
    py = sys.executable
    if production and endpoints == "endpoints.yml":
        endpoints = PRODUCTION_ENDPOINTS
    credentials = PRODUCTION_CREDENTIALS if production else "credentials.yml"
    commands = [
        # loopback only, and every call must carry ACTION_SERVER_TOKEN (actions/server.py)
        (
            "action server",
            [py, "-m", "actions.server", "--port", str(actions_port), "--host", "127.0.0.1"],
            f"http://127.0.0.1:{actions_port}/health",
        ),
        # The web chat channel checks socket origins itself, from ALLOWED_ORIGINS.
        (
            "Rasa server",
            [
                "env",
                f"ALLOWED_ORIGINS={allowed_origins(web_port)}",
                *api_environment(production),
                py,
                "-m",
                "channels.serve",
                "run",
                "--model",
                str(model),
                "--port",
                str(rasa_port),
                # one machine: loopback only (a container or proxy sets the production
                # profile, which listens where its network puts it)
                *([] if production else ["--interface", "127.0.0.1"]),
                "--endpoints",
                endpoints,
                "--credentials",
                credentials,
                "--cors",
                *allowed_origins(web_port).split(","),
            ],
            f"http://127.0.0.1:{rasa_port}/",
        ),
    ]
    if (ROOT / "scripts" / "serve_web.py").exists():
        # Several workers: one websocket stays with one worker; long-polling would hop between them.
        commands.append(
            (
                "web chat page",
                [
                    py,
                    "scripts/serve_web.py",
                    "--port",
                    str(web_port),
                    "--rasa-url",
                    f"http://localhost:{rasa_port}",
                    *(["--websocket-only"] if production else []),
                ],
                f"http://127.0.0.1:{web_port}/",
            )
        )
    if (ROOT / "review" / "manage.py").exists():
        # `serve`: Django's server (no auto-reload) plus a background thread that keeps the
        # conversation index current (REVIEW_SYNC_SECONDS), so nobody runs a sync by hand.
        commands.append(
            (
                "staff review tool",
                [py, "review/manage.py", "serve", f"127.0.0.1:{review_port}"],
                f"http://127.0.0.1:{review_port}/",
            )
        )
    return commands


# The production profile (docs/production.md): PostgreSQL, Redis, several Sanic workers.
PRODUCTION_ENDPOINTS = "endpoints.production.yml"
PRODUCTION_CREDENTIALS = "deploy/credentials.production.yml"
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def production_requested(args: argparse.Namespace | None = None) -> bool:
    """`./dev run --production`, or RASA_PROFILE=production in the environment."""
    return (
        bool(getattr(args, "production", False)) or os.environ.get("RASA_PROFILE", "").strip().lower() == "production"
    )


def production_env(actions_port: int = 5055, environ: dict | None = None) -> dict:
    """Every variable endpoints.production.yml and the services read, with defaults for this
    machine (local PostgreSQL and Redis); a variable already set in the environment wins."""
    environ = os.environ if environ is None else environ
    defaults = {
        "RASA_PROFILE": "production",
        "TRACKER_DB_URL": f"{LOCAL_POSTGRES}/upwell",
        "BOOKING_DB_URL": f"{LOCAL_POSTGRES}/upwell",
        "REVIEW_DB_URL": f"{LOCAL_POSTGRES}/upwell_review",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
        "REDIS_DB": "1",
        "REDIS_PASSWORD": "",
        "REDIS_KEY_PREFIX": "upwell",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook",
        "ACTION_SERVER_TOKEN": action_server_token(),
        "SANIC_WORKERS": "2",
        # Rasa's listen backlog (default 100): at 200 patients connecting at once the kernel
        # dropped connections (connection errors in the 200 x 10 load run).
        "SANIC_BACKLOG": "1024",
        # Sanic reads SANIC_* variables: bodies over 1 MB get 413 before any handler runs.
        "SANIC_REQUEST_MAX_SIZE": "1048576",
    }
    merged = {name: environ.get(name, default) for name, default in defaults.items()}
    return merged


def prepare_production(settings: dict) -> str | None:
    """Checks PostgreSQL and Redis answer and creates missing PostgreSQL databases; a plain
    sentence saying what to do when something is missing, else None."""
    import psycopg2
    import redis
    from sqlalchemy.engine import make_url

    for name in ("TRACKER_DB_URL", "BOOKING_DB_URL", "REVIEW_DB_URL"):
        url = make_url(settings[name])
        if url.get_backend_name() not in {"postgresql", "postgres"}:
            continue
        params = {
            "host": url.host or "127.0.0.1",
            "port": url.port or 5432,
            "user": url.username or "postgres",
            "password": url.password or "",
            "connect_timeout": 5,
        }
        try:
            psycopg2.connect(dbname=url.database, **params).close()
            continue
        except psycopg2.OperationalError as error:
            if "does not exist" not in str(error):
                return (
                    f"PostgreSQL at {params['host']}:{params['port']} is not answering ({name}). "
                    f"Start it, or set {name} to a database you can reach."
                )
        try:
            admin = psycopg2.connect(dbname="postgres", **params)
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{url.database}"')
            admin.close()
            say(f"Created the PostgreSQL database {url.database}")
        except psycopg2.Error as error:
            if "already exists" not in str(error):
                return (
                    f"Could not create the database {url.database} for {name} ({type(error).__name__}); "
                    "create it, then try again."
                )
    try:
        redis.Redis(
            host=settings["REDIS_HOST"],
            port=int(settings["REDIS_PORT"]),
            password=settings["REDIS_PASSWORD"] or None,
            socket_timeout=5,
        ).ping()
    except redis.RedisError:
        return (
            f"Redis at {settings['REDIS_HOST']}:{settings['REDIS_PORT']} is not answering. "
            "Start it, or set REDIS_HOST and REDIS_PORT."
        )
    return None


def run(args: argparse.Namespace) -> int:
    production = production_requested(args)
    extra: dict = {}
    if production:
        extra = production_env()
        problem = prepare_production(extra)
        if problem:
            say(problem)
            return 1
        if not os.environ.get("REVIEW_SECRET_KEY"):
            # Secrets come from the environment only: without one, staff sessions last this run.
            extra["REVIEW_SECRET_KEY"] = secrets.token_urlsafe(50)
            say("REVIEW_SECRET_KEY is not set: staff sign-ins last until this run stops")
    model = train()
    if (ROOT / "review" / "manage.py").exists():
        subprocess.run(
            [sys.executable, "review/manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env(**extra),
            check=True,
        )
    procs: list[subprocess.Popen] = []

    def stop(*_: object) -> None:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    # Ctrl-C must stop everything even where the shell started us with SIGINT ignored (a
    # background job, nohup, some process managers): Python then keeps SIG_IGN.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for name, command, ready in service_commands(model=model, production=production):
            say(f"Starting the {name}")
            proc = subprocess.Popen(command, cwd=ROOT, env=env(**extra), start_new_session=True)
            procs.append(proc)
            if not wait_for(ready, 300 if production else 180, proc):
                say(f"The {name} did not start; see the lines above.")
                stop()
                return 1
        if production:
            api = (
                "on (RASA_API_TOKEN / RASA_JWT_SECRET)"
                if os.environ.get("RASA_API_TOKEN") or os.environ.get("RASA_JWT_SECRET")
                else "off (set RASA_API_TOKEN or RASA_JWT_SECRET to turn it on)"
            )
            where = (
                f"  Transcripts:            {extra['TRACKER_DB_URL'].split('@')[-1]} (PostgreSQL)\n"
                f"  Lock store:             Redis {extra['REDIS_HOST']}:{extra['REDIS_PORT']}, "
                f"{extra['SANIC_WORKERS']} Sanic workers\n"
                f"  Rasa HTTP API:          {api}\n"
            )
        else:
            where = (
                "  Rasa HTTP API token:    var/rasa-api-token\n  Transcripts:            var/transcripts.db (SQLite)\n"
            )
        print(
            "\n"
            f"  The triage assistant is running{' (production profile)' if production else ''}.\n"
            "  Chat in your browser:   http://localhost:8080\n"
            "  REST channel:           POST http://localhost:5005/webhooks/rest/webhook\n"
            '                          {"sender": "me", "message": "my knee hurts on stairs"}\n'
            "  Staff review tool:      http://localhost:8000  (first account: ./dev staff-account)\n"
            + where
            + "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while all(proc.poll() is None for proc in procs):
            time.sleep(1)
        say("A process stopped; stopping the rest.")
        return 1
    except KeyboardInterrupt:
        say("Stopping")
        return 0
    finally:
        stop()


def ensure_browser() -> None:
    """Browser tests drive Debian's chromium; install it where we can (root with apt-get)."""
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("Installing Debian's chromium for the browser tests")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if not Path("/usr/bin/chromium").exists():
        say("chromium is not installed: browser tests will be skipped (install it: apt-get install chromium)")


# The tiers tests/conftest.py marks tests with (registered in pyproject.toml). `./dev test --fast`
# leaves out every test in one of them: nothing is trained, no server or browser is started.
SLOW_TIERS = ("model", "servers", "browser", "production")


def lint() -> int:
    """ruff (lint, then format), then mypy, on the paths pyproject.toml gives them; the first that
    fails stops. `ruff format .` mends what the format check finds."""
    checks = (
        ("ruff check", [str(VENV_BIN / "ruff"), "check"]),
        ("ruff format --check", [str(VENV_BIN / "ruff"), "format", "--check"]),
        ("mypy", [str(VENV_BIN / "mypy")]),
    )
    for name, command in checks:
        say(name)
        status = subprocess.run(command, cwd=ROOT, env=env()).returncode
        if status:
            say(f"{name} found problems (above; its settings: pyproject.toml). No tests were run.")
            return status
    return 0


def fast_selection(pytest_args: list[str]) -> list[str]:
    """The pytest arguments for --fast: the caller's own -m expression, if any, and no tier."""
    leave_out = " and ".join(f"not {tier}" for tier in SLOW_TIERS)
    kept: list[str] = []
    chosen = ""
    rest = iter(pytest_args)
    for arg in rest:
        if arg == "-m":
            chosen = next(rest, "")
        elif arg.startswith("-m"):
            chosen = arg[2:].lstrip("=")
        else:
            kept.append(arg)
    return [*kept, "-m", f"({chosen}) and {leave_out}" if chosen else leave_out]


def test(args: argparse.Namespace) -> int:
    fast = "--fast" in args.pytest_args
    pytest_args = [arg for arg in args.pytest_args if arg != "--fast"]
    status = lint()
    if status:
        return status
    if fast:
        prepare()  # the spaCy pipeline the entity rules read; no training
        pytest_args = fast_selection(pytest_args)
        if (os.cpu_count() or 1) > 1 and not any(a == "-n" or a.startswith("-n") for a in pytest_args):
            pytest_args = ["-n", str(min(os.cpu_count() or 1, 4)), *pytest_args]  # pytest-xdist: every core
    else:
        train()
        ensure_browser()
    command = [sys.executable, "-m", "pytest", *pytest_args]
    say(("Running the fast tests: " if fast else "Running every test: ") + shlex.join(command[2:]))
    started = time.monotonic()
    status = subprocess.run(command, cwd=ROOT, env=env()).returncode
    say(f"Tests took {time.monotonic() - started:.0f} s")
    return status


def evaluate(args: argparse.Namespace) -> int:
    train()
    status = 0
    blind = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "data" / "red_flag_blind").glob("batch*.yml"))]
    for script, *script_args in (
        ("scripts/eval_nlu.py",),
        ("scripts/eval_red_flags.py",),
        ("scripts/eval_red_flag_nets.py",),
        ("scripts/eval_blind.py", *blind),
    ):
        say(f"python {script} {' '.join(script_args)}".strip())
        status |= subprocess.run([sys.executable, script, *script_args], cwd=ROOT, env=env()).returncode
    return status


def bench(args: argparse.Namespace) -> int:
    train()
    status = 0
    for script in sorted((ROOT / "scripts").glob("bench_*.py")):
        say(f"python {script.relative_to(ROOT)}")
        status |= subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env()).returncode
    return status


def lock(args: argparse.Namespace) -> int:
    """Resolve requirements.in in a scratch venv and freeze it: the lock is what was installed
    and checked together, not a guess."""
    scratch = ROOT / "var" / "lock-venv"
    shutil.rmtree(scratch, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(scratch)], check=True)
    pip = [str(scratch / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "install", "--quiet", "-r", str(ROOT / "requirements.in")], check=True)
    subprocess.run([*pip, "check"], check=True)
    frozen = subprocess.run([*pip, "freeze", "--all"], check=True, capture_output=True, text=True).stdout
    lines = [line for line in frozen.splitlines() if not line.startswith("pip==")]
    (ROOT / "requirements.lock").write_text("\n".join(lines) + "\n")
    shutil.rmtree(scratch, ignore_errors=True)
    say(f"requirements.lock: {len(lines)} packages")
    return 0


def staff_account(args: argparse.Namespace) -> int:
    extra = production_env() if production_requested() else {}
    return subprocess.run(
        [sys.executable, "review/manage.py", "create_staff", *args.rest], cwd=ROOT, env=env(**extra)
    ).returncode


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./dev")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument(
        "--production",
        action="store_true",
        help="PostgreSQL, Redis and several workers (same as RASA_PROFILE=production)",
    )
    p.set_defaults(func=run)
    p = sub.add_parser("test")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=test)
    p = sub.add_parser("train")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=lambda a: (train(force=a.force), 0)[1])
    sub.add_parser("eval").set_defaults(func=evaluate)
    sub.add_parser("bench").set_defaults(func=bench)
    sub.add_parser("setup").set_defaults(func=lambda a: (prepare(), 0)[1])
    sub.add_parser("lock").set_defaults(func=lock)
    p = sub.add_parser("staff-account")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=staff_account)
    # Everything after these belongs to the tool they call (argparse would read "-k" as ours).
    if argv[:1] == ["staff-account"]:
        return staff_account(argparse.Namespace(rest=argv[1:]))
    if argv[:1] == ["test"]:
        return test(argparse.Namespace(pytest_args=argv[1:]))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
