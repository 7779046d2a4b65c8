"""The production shape on this machine, on free ports, with a database of its own.

Used by the fault scripts, the load test, the benchmark and tests/production: the same
commands as `./dev run --production` (scripts/dev.py), each run in a fresh PostgreSQL database
(dropped afterwards) and under its own Redis key prefix, so nothing touches var/ or the
developer's `upwell` database.

    with ProductionStack(workers=2) as stack:
        stack.send("sender-1", "my knee hurts on stairs")

PostgreSQL and Redis are throwaway servers of their own (local_services.py: the installed
binaries, a temporary folder, free ports), started by `local_services()`; the restarts and
outages the fault scripts need happen to those, never to a server this code did not start.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import dev  # noqa: E402  (the commands ./dev run uses)
from faults.local_services import LocalServices  # noqa: E402  (after the sys.path set-up above)
from faults.local_services import missing as binaries_missing  # noqa: E402  (after the sys.path set-up above)

# Set by local_services(): the throwaway servers every stack, database and fault here uses.
ADMIN_DB_URL = ""
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 0
_LOCAL: LocalServices | None = None
READY_LINE = b"Rasa server is up and running."
START_SECONDS = float(os.environ.get("PRODUCTION_TEST_START_SECONDS", "420"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _admin_connection():
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(ADMIN_DB_URL)
    connection = psycopg2.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or "",
        dbname=url.database or "postgres",
        connect_timeout=10,
    )
    connection.autocommit = True
    return connection


def database_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(ADMIN_DB_URL).set(database=name).render_as_string(hide_password=False)


def create_database(prefix: str = "upwell_t") -> str:
    name = f"{prefix}_{secrets.token_hex(5)}"
    connection = _admin_connection()  # not `with connection`: that opens a transaction block
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    return name


def drop_database(name: str) -> None:
    connection = wait_for_postgres(60)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


def wait_for_postgres(seconds: float):
    """An admin connection once PostgreSQL accepts one (after a restart it takes a moment)."""
    import psycopg2

    deadline = time.monotonic() + seconds
    while True:
        try:
            return _admin_connection()
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# --- throwaway PostgreSQL and Redis ---------------------------------------------------------


class local_services:  # lower case: used as a context manager, like open()
    """Starts throwaway PostgreSQL and Redis servers and points this module at them."""

    def __enter__(self) -> LocalServices:
        global ADMIN_DB_URL, REDIS_HOST, REDIS_PORT, _LOCAL
        self.services = LocalServices().__enter__()
        _LOCAL = self.services
        ADMIN_DB_URL = self.services.admin_url
        REDIS_HOST, REDIS_PORT = self.services.redis_host, self.services.redis_port
        return self.services

    def __exit__(self, *exc: object) -> None:
        global _LOCAL
        _LOCAL = None
        self.services.close()


def _local() -> LocalServices:
    if _LOCAL is None:
        raise RuntimeError("Start the throwaway servers first: `with local_services(): ...`")
    return _LOCAL


def restart_postgres() -> float:
    """Restarts the throwaway PostgreSQL (fast shutdown: open connections are cut, as in a
    fail-over); seconds until it accepts connections again."""
    started = time.monotonic()
    try:
        _local().postgres.restart()
    finally:
        ensure_postgres_running()
    wait_for_postgres(60).close()
    return time.monotonic() - started


def ensure_postgres_running() -> None:
    if _LOCAL is not None:
        _LOCAL.postgres.ensure_running()


def services_missing() -> str:
    """Why throwaway PostgreSQL and Redis servers cannot be started here, or ""."""
    return binaries_missing()


def redis_ping() -> bool:
    import redis

    try:
        return bool(redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def stop_redis() -> None:
    """An outage of the throwaway Redis."""
    _local().redis.stop()


def start_redis() -> None:
    """The throwaway Redis back (same port), unless it already answers."""
    if _LOCAL is not None and not redis_ping():
        _LOCAL.redis.start()


# --- the stack ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_rss_mb(root_pids: list[int]) -> float:
    """Resident memory of the given processes and all their descendants, in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages
    total, todo, seen = 0, list(root_pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total * os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass
class FaultResult:
    """What a fault script checked: ok, and findings (problems first, then "(info)" notes)."""

    name: str
    ok: bool
    findings: list = field(default_factory=list)

    def summary(self) -> str:
        return "\n".join([f"{self.name}: {'OK' if self.ok else 'FAILED'}", *(f"  - {f}" for f in self.findings)])


@dataclass
class Service:
    name: str
    command: list[str]
    ready_url: str
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    started_seconds: float = 0.0


@dataclass
class ProductionStack:
    """Action server and Rasa server (and optionally the review tool) in the production shape."""

    workers: int = 2
    model: Path = dev.MODEL
    with_review: bool = False
    extra_env: dict = field(default_factory=dict)
    retry_seconds: float = 20.0
    logs: Path | None = None

    def __post_init__(self) -> None:
        self.rasa_port, self.actions_port, self.review_port = free_port(), free_port(), free_port()
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        self.token = secrets.token_urlsafe(24)
        self.redis_prefix = "t" + secrets.token_hex(6)
        self.database: str | None = None
        self.services: dict[str, Service] = {}
        self.logs = Path(self.logs or tempfile.mkdtemp(prefix="production-stack-"))

    # lifecycle
    def __enter__(self) -> ProductionStack:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db_url(self) -> str:
        assert self.database, "start() first"
        return database_url(self.database)

    @property
    def env(self) -> dict:
        settings = dev.production_env(actions_port=self.actions_port, environ={})
        settings.update(
            {
                "TRACKER_DB_URL": self.db_url,
                "BOOKING_DB_URL": self.db_url,
                "REVIEW_DB_URL": self.db_url,
                "REDIS_HOST": REDIS_HOST,
                "REDIS_PORT": str(REDIS_PORT),
                "REDIS_KEY_PREFIX": self.redis_prefix,
                "SANIC_WORKERS": str(self.workers),
                "RASA_API_TOKEN": self.token,
                "TRACKER_STORE_RETRY_SECONDS": str(self.retry_seconds),
                "REVIEW_SECRET_KEY": secrets.token_urlsafe(40),
                "RASA_TELEMETRY_ENABLED": "false",
            }
        )
        settings.update(self.extra_env)
        return settings

    def start(self) -> None:
        self.database = create_database()
        saved = {k: os.environ.get(k) for k in ("RASA_API_TOKEN", "RASA_JWT_SECRET")}
        os.environ["RASA_API_TOKEN"] = self.token  # the production profile's API is on only with it
        os.environ.pop("RASA_JWT_SECRET", None)
        try:
            commands = dev.service_commands(
                rasa_port=self.rasa_port,
                actions_port=self.actions_port,
                review_port=self.review_port,
                model=self.model,
                production=True,
            )
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        for name, command, ready in commands:
            if name == "web chat page" or (name == "staff review tool" and not self.with_review):
                continue
            self.services[name] = Service(name, command, ready)
        if self.with_review:
            subprocess.run(
                [sys.executable, "review/manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=dev.env(**self.env),
                check=True,
                timeout=300,
            )
        for name in self.services:
            self.start_service(name)

    def start_service(self, name: str, timeout: float = START_SECONDS) -> float:
        """Starts one service and waits until it is ready (every worker, for Rasa); seconds taken."""
        service = self.services[name]
        if service.proc is not None and service.proc.poll() is None:
            return 0.0
        service.log_path = self.logs / f"{name.replace(' ', '_')}.log"
        log = open(service.log_path, "ab")
        offset = service.log_path.stat().st_size
        started = time.monotonic()
        service.proc = subprocess.Popen(
            service.command,
            cwd=ROOT,
            env=dev.env(**self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = started + timeout
        if not dev.wait_for(service.ready_url, timeout, service.proc):
            raise RuntimeError(f"{name} did not start; log {service.log_path}:\n{self.log_tail(name)}")
        if name == "Rasa server":
            # Each Sanic worker loads the model itself; "/" answers as soon as the first is up.
            while self._ready_workers(service, offset) < self.workers:
                if service.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Rasa workers did not all start; log:\n{self.log_tail(name)}")
                time.sleep(0.5)
        service.started_seconds = time.monotonic() - started
        return service.started_seconds

    @staticmethod
    def _ready_workers(service: Service, offset: int) -> int:
        with open(service.log_path, "rb") as log:
            log.seek(offset)
            return log.read().count(READY_LINE)

    def stop_service(self, name: str) -> None:
        service = self.services[name]
        proc = service.proc
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)

    def close(self) -> None:
        for name in reversed(list(self.services)):
            try:
                self.stop_service(name)
            except ProcessLookupError:
                pass
        if self.database:
            try:
                drop_database(self.database)
            except Exception as error:  # cleanup must not hide the real failure
                print(f"could not drop test database {self.database}: {type(error).__name__}", file=sys.stderr)
            self.database = None

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.services[name].log_path
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    def rasa_worker_pids(self) -> list[int]:
        """The Sanic worker processes (children of the Rasa server's main process)."""
        parent = self.services["Rasa server"].proc.pid
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
                    pids.append(int(entry))
        return sorted(pids) or [parent]

    def rss_mb(self) -> float:
        return process_tree_rss_mb([s.proc.pid for s in self.services.values() if s.proc and s.proc.poll() is None])

    # talking to it
    def post(
        self, path: str, body: bytes, content_type: str = "application/json", timeout: float = 90, method: str = "POST"
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"{self.rasa_url}{path}",
            data=body,
            method=method,
            headers={"Content-Type": content_type} if content_type else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def send(self, sender: str, text: str, metadata: dict | None = None) -> tuple[int, object]:
        """(status, JSON answer) of one REST message."""
        body = {"sender": sender, "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        status, raw = self.post("/webhooks/rest/webhook", json.dumps(body).encode())
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def tracker(self, sender: str) -> dict:
        request = urllib.request.Request(f"{self.rasa_url}/conversations/{sender}/tracker?token={self.token}")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def stored_user_texts(self, sender: str) -> list[str]:
        """What PostgreSQL holds for a conversation: the user's messages, in order."""
        import psycopg2

        connection = psycopg2.connect(self.db_url, connect_timeout=10)
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "select data from events where sender_id = %s and type_name = 'user' order by id", (sender,)
                )
                return [json.loads(data).get("text") for (data,) in cursor.fetchall()]
        finally:
            connection.close()


class Conversation:
    """One patient's conversation; remembers what was acknowledged, to compare with PostgreSQL."""

    def __init__(self, stack: ProductionStack, label: str) -> None:
        self.stack = stack
        self.sender = f"{label}-{uuid.uuid4().hex[:10]}"
        self.acknowledged: list[str] = []

    def say(self, text: str) -> tuple[int, str]:
        status, answer = self.stack.send(self.sender, text)
        if status == 200:
            self.acknowledged.append(text)
        replies = "\n".join(m.get("text") or "" for m in answer) if isinstance(answer, list) else str(answer)
        return status, replies

    def slots(self) -> dict:
        return self.stack.tracker(self.sender)["slots"]

    def stored_as_sent(self) -> bool:
        return self.stack.stored_user_texts(self.sender) == self.acknowledged


def start_triage(conversation: Conversation) -> str | None:
    """Opens a conversation and starts the triage questions, answering "no" to the emergency
    questions that come first, so the 'where does it hurt' question waits; a problem, or None."""
    from bot.triage import EMERGENCY_QUESTIONS

    for text in ("hi", "my knee hurts when I go down stairs", *["no"] * len(EMERGENCY_QUESTIONS)):
        status, replies = conversation.say(text)
        if status != 200 or not replies.strip():
            return f"{text!r} got {status} {replies[:120]!r} before the fault"
    if conversation.slots().get("requested_slot") != "pain_location":
        return "the triage questions did not start (expected the 'where does it hurt' question)"
    return None


def location_answer_taken(conversation: Conversation, status: int, replies: str) -> str | None:
    """After "around the kneecap" was sent to a triage waiting for it: a problem, or None when the
    answer is in the triage record and the next question is asked."""
    slots = conversation.slots()
    if status != 200 or slots.get("pain_location") != "around_kneecap":
        return (
            f"answered {status} {replies[:160]!r} and recorded pain_location {slots.get('pain_location')!r}, "
            "not 'around_kneecap'"
        )
    if slots.get("requested_slot") in (None, "pain_location"):
        return f"recorded the answer but asked no next question (requested_slot {slots.get('requested_slot')!r})"
    return None
