"""The work behind ./dev: train when needed, run the whole product, run every test.

Run through ./dev, which first makes sure .venv exists with the locked dependencies.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = ROOT / ".venv" / "bin"
MODEL_NAME = "triage"
MODEL = ROOT / "models" / f"{MODEL_NAME}.tar.gz"
FINGERPRINT = ROOT / "models" / f"{MODEL_NAME}.fingerprint"
# What a trained model depends on. Custom components are not trained (their rules are read at
# run time), so changing bot/ code needs no retraining.
TRAINING_INPUTS = ("config.yml", "domain.yml", "data")

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's start-up chatter hides the useful lines
    "PYTHONUNBUFFERED": "1",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}


def env(**extra: str) -> dict:
    merged = {**os.environ, **QUIET_ENV, **extra}
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
    (ROOT / "var").mkdir(exist_ok=True)
    from bot import spacy_model

    if not (spacy_model.DEFAULT_PATH / "meta.json").exists():
        say("Building the spaCy pipeline (blank English + lookup lemmas) in var/spacy")
        subprocess.run([sys.executable, "-m", "bot.spacy_model"], cwd=ROOT, env=env(), check=True)


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
            cwd=ROOT, env=env(), check=True,
        )
        FINGERPRINT.write_text(fingerprint)
        say(f"Trained in {time.monotonic() - started:.0f} s: {MODEL.relative_to(ROOT)}")
        return MODEL


def wait_for(url: str, seconds: float, proc: Optional[subprocess.Popen] = None) -> bool:
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


def api_token() -> str:
    """The Rasa HTTP API is only ever on with a token: RASA_API_TOKEN, or one made for this
    machine and kept in var/ (readable by this user only)."""
    token = os.environ.get("RASA_API_TOKEN")
    if token:
        return token
    path = ROOT / "var" / "rasa-api-token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def allowed_origins(web_port: int) -> str:
    return os.environ.get("ALLOWED_ORIGINS", f"http://localhost:{web_port},http://127.0.0.1:{web_port}")


def service_commands(rasa_port=5005, actions_port=5055, web_port=8080, review_port=8000,
                     endpoints="endpoints.yml", model=MODEL) -> list[tuple[str, list[str], str]]:
    """(name, command, readiness URL) for every process of the product, in start order."""
    rasa = str(VENV_BIN / "rasa")
    py = sys.executable
    commands = [
        ("action server", [rasa, "run", "actions", "--port", str(actions_port), "--actions", "actions"],
         f"http://127.0.0.1:{actions_port}/health"),
        ("Rasa server", [rasa, "run", "--model", str(model), "--port", str(rasa_port),
                         "--endpoints", endpoints, "--credentials", "credentials.yml",
                         "--enable-api", "--auth-token", api_token(),
                         "--cors", *allowed_origins(web_port).split(",")],
         f"http://127.0.0.1:{rasa_port}/"),
    ]
    if (ROOT / "scripts" / "serve_web.py").exists():
        commands.append(("web chat page", [py, "scripts/serve_web.py", "--port", str(web_port),
                                            "--rasa-url", f"http://localhost:{rasa_port}"],
                         f"http://127.0.0.1:{web_port}/"))
    if (ROOT / "review" / "manage.py").exists():
        commands.append(("staff review tool", [py, "review/manage.py", "runserver", "--noreload",
                                                f"127.0.0.1:{review_port}"],
                         f"http://127.0.0.1:{review_port}/"))
    return commands


def run(args: argparse.Namespace) -> int:
    model = train()
    if (ROOT / "review" / "manage.py").exists():
        subprocess.run([sys.executable, "review/manage.py", "migrate", "--noinput", "-v", "0"],
                       cwd=ROOT, env=env(), check=True)
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
    try:
        for name, command, ready in service_commands(model=model):
            say(f"Starting the {name}")
            proc = subprocess.Popen(command, cwd=ROOT, env=env(), start_new_session=True)
            procs.append(proc)
            if not wait_for(ready, 180, proc):
                say(f"The {name} did not start; see the lines above.")
                stop()
                return 1
        print(
            "\n"
            "  The triage assistant is running.\n"
            "  Chat in your browser:   http://localhost:8080\n"
            "  REST channel:           POST http://localhost:5005/webhooks/rest/webhook\n"
            '                          {"sender": "me", "message": "my knee hurts on stairs"}\n'
            "  Staff review tool:      http://localhost:8000  (first account: ./dev staff-account)\n"
            "  Rasa HTTP API token:    var/rasa-api-token\n"
            "  Transcripts:            var/transcripts.db (SQLite)\n"
            "  Press Ctrl-C to stop everything.\n",
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
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not Path("/usr/bin/chromium").exists():
        say("chromium is not installed: browser tests will be skipped (install it: apt-get install chromium)")


def test(args: argparse.Namespace) -> int:
    train()
    ensure_browser()
    command = [sys.executable, "-m", "pytest", *args.pytest_args]
    say("Running every test: " + " ".join(command[2:]))
    return subprocess.run(command, cwd=ROOT, env=env()).returncode


def evaluate(args: argparse.Namespace) -> int:
    train()
    status = 0
    for script in ("scripts/eval_nlu.py", "scripts/eval_red_flags.py"):
        if (ROOT / script).exists():
            say(f"python {script}")
            status |= subprocess.run([sys.executable, script], cwd=ROOT, env=env()).returncode
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
    return subprocess.run([sys.executable, "review/manage.py", "create_staff", *args.rest], cwd=ROOT, env=env()).returncode


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./dev")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run").set_defaults(func=run)
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
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
