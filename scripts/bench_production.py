"""Side-by-side benchmark: this bot in its default and production configurations against a bare
`rasa init` bot, all on this machine in one run.

    python scripts/bench_production.py            # quick (what ./dev bench runs): a few minutes
    python scripts/bench_production.py --full     # everything docs/production.md reports

For each configuration, one after another (never two at once, so they do not share the CPU):
start-up time (until every Sanic worker has loaded the model), p50 and p95 latency and messages
per second at 1, 10 and 50 concurrent conversations (closed loop: each simulated patient sends
its next message as soon as the answer arrives), and peak memory (resident set of every process
of the configuration, sampled each second). Training time: `rasa init --no-prompt` (which
trains the bare bot) and `rasa train` of this bot into a scratch folder, under the same lock
./dev train uses. --full adds 200 concurrent conversations of 10 turns on the production
configuration, checked in PostgreSQL (every acknowledged message stored, in order, once).

Configurations:
  bare default        `rasa init` bot, `rasa run` as generated: in-memory tracker and lock store
  bare production     the same bot with endpoints.production.yml: PostgreSQL, Redis, 2 workers
  triage default      this bot as ./dev run starts it: SQLite, 1 worker, action server
  triage prod 1w      ./dev run --production with SANIC_WORKERS=1
  triage prod 2w      ./dev run --production (2 workers)

Targets (issue 7): p95 at 10 conversations of triage prod 2w within 1.5x bare default's; with
two workers at least 1.6x one worker's messages per second at 50 conversations; 200 x 10
conversations with no error and no lost message. The report says which are met.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import dev  # noqa: E402  (after the sys.path set-up above)
import load_test  # noqa: E402  (after the sys.path set-up above)
from faults import production_stack  # noqa: E402  (its REDIS_* point at the throwaway servers)
from faults.production_stack import (  # noqa: E402  (after the sys.path set-up above)
    READY_LINE,
    create_database,
    database_url,
    drop_database,
    free_port,
    local_services,
    process_tree_rss_mb,
)

LEVELS_FULL = ((1, 20), (10, 10), (50, 6))  # (concurrent conversations, turns each)
LEVELS_QUICK = ((1, 10), (10, 6))
START_SECONDS = 600


@dataclass
class LevelResult:
    conversations: int
    turns: int
    p50_ms: float
    p95_ms: float
    messages_per_second: float
    errors: dict
    empty_replies: int


@dataclass
class ConfigResult:
    name: str
    workers: int
    startup_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    levels: list = field(default_factory=list)
    big_run: dict | None = None
    error: str = ""

    def level(self, conversations: int) -> LevelResult | None:
        return next((lv for lv in self.levels if lv.conversations == conversations), None)


class Target:
    """The processes of one configuration: started in order, each ready before the next."""

    def __init__(
        self, name: str, commands: list[tuple[str, list[str], str]], env: dict, cwd: Path, workers: int, logs: Path
    ) -> None:
        self.name, self.commands, self.env, self.cwd, self.workers, self.logs = name, commands, env, cwd, workers, logs
        self.procs: list[subprocess.Popen] = []
        self.peak_rss_mb = 0.0
        self._sampling = False

    def start(self) -> float:
        """Starts everything; seconds until the Rasa server's workers have all loaded the model."""
        rasa_seconds = 0.0
        for label, command, ready in self.commands:
            log_path = self.logs / f"{self.name.replace(' ', '_')}-{label.replace(' ', '_')}.log"
            log = open(log_path, "ab")
            started = time.monotonic()
            proc = subprocess.Popen(
                command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            self.procs.append(proc)
            if not dev.wait_for(ready, START_SECONDS, proc):
                raise RuntimeError(f"{self.name}: {label} did not start; see {log_path}")
            if label == "Rasa server":
                deadline = started + START_SECONDS
                while log_path.read_bytes().count(READY_LINE) < self.workers:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{self.name}: not every worker started; see {log_path}")
                    time.sleep(0.2)
                rasa_seconds = time.monotonic() - started
        return rasa_seconds

    def sample_memory(self) -> None:
        self._sampling = True

        def loop() -> None:
            while self._sampling:
                self.peak_rss_mb = max(self.peak_rss_mb, process_tree_rss_mb([p.pid for p in self.procs]))
                time.sleep(1)

        threading.Thread(target=loop, daemon=True).start()

    def stop(self) -> None:
        self._sampling = False
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def measure(target: Target, levels, scripts, db_url: str | None, big_run: bool) -> ConfigResult:
    result = ConfigResult(target.name, target.workers)
    try:
        result.startup_seconds = target.start()
        target.sample_memory()
        url = next(ready for label, _, ready in target.commands if label == "Rasa server").rstrip("/")
        load_test.run_load(url, 2, 3, scripts=scripts)  # warm-up: first messages load lazy parts
        for conversations, turns in levels:
            report = load_test.run_load(url, conversations, turns, scripts=scripts, timeout=300)
            result.levels.append(
                LevelResult(
                    conversations,
                    turns,
                    report.p50_ms,
                    report.p95_ms,
                    report.messages_per_second,
                    report.errors,
                    report.empty_replies,
                )
            )
            print(
                f"    {target.name}: {conversations:>3} conversations  p50 {report.p50_ms:6.0f} ms  "
                f"p95 {report.p95_ms:6.0f} ms  {report.messages_per_second:5.1f} msg/s"
                f"{'  errors ' + str(report.errors) if report.errors else ''}",
                flush=True,
            )
        if big_run:
            report = load_test.run_load(url, 200, 10, db_url=db_url, timeout=600)
            result.big_run = asdict(report)
            print("    " + report.summary().replace("\n", "\n    "), flush=True)
        result.peak_rss_mb = target.peak_rss_mb
    except Exception as error:  # one failed configuration must not hide the others
        result.error = f"{type(error).__name__}: {error}"
        print(f"    {target.name} failed: {result.error}", flush=True)
    finally:
        target.stop()
    return result


# --- configurations ------------------------------------------------------------------------


def production_env(actions_port: int, database: str, workers: int) -> dict:
    settings = dev.production_env(actions_port=actions_port, environ={})
    url = database_url(database)
    settings.update(
        {
            "TRACKER_DB_URL": url,
            "BOOKING_DB_URL": url,
            "REVIEW_DB_URL": url,
            "REDIS_HOST": production_stack.REDIS_HOST,
            "REDIS_PORT": str(production_stack.REDIS_PORT),
            "REDIS_KEY_PREFIX": "bench" + database.rsplit("_", 1)[-1],
            "SANIC_WORKERS": str(workers),
            "RASA_TELEMETRY_ENABLED": "false",
        }
    )
    return dev.env(**settings)


def triage_target(name: str, production: bool, workers: int, database: str | None, folder: Path, model: Path) -> Target:
    rasa_port, actions_port = free_port(), free_port()
    if production:
        env = production_env(actions_port, database, workers)
        endpoints = "endpoints.production.yml"
    else:
        env = dev.env(BOOKING_DB_URL=f"sqlite:///{folder / 'clinic.db'}", RASA_TELEMETRY_ENABLED="false")
        endpoints_file = folder / "endpoints.yml"
        endpoints_file.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n'
            f'tracker_store:\n  type: SQL\n  dialect: "sqlite"\n  db: "{folder / "transcripts.db"}"\n'
            'lock_store:\n  type: "in_memory"\n'
            "event_broker:\n  type: components.alert_broker.StaffAlertBroker\n"
        )
        endpoints = str(endpoints_file)
    commands = [
        c
        for c in dev.service_commands(
            rasa_port=rasa_port, actions_port=actions_port, endpoints=endpoints, model=model, production=production
        )
        if c[0] in ("action server", "Rasa server")
    ]
    return Target(name, commands, env, ROOT, workers, folder)


def bare_target(name: str, bot: Path, production: bool, database: str | None, folder: Path) -> Target:
    rasa = str(dev.VENV_BIN / "rasa")
    port = free_port()
    command = [rasa, "run", "--model", str(bot / "models"), "--port", str(port)]
    if production:
        env = production_env(free_port(), database, 2)
        command += [
            "--endpoints",
            str(ROOT / "endpoints.production.yml"),
            "--credentials",
            str(ROOT / dev.PRODUCTION_CREDENTIALS),
        ]
        workers = 2
    else:
        env = dev.env(RASA_TELEMETRY_ENABLED="false")
        env.pop("PYTHONPATH", None)  # as generated: nothing of this project on its path
        command += ["--endpoints", "endpoints.yml", "--credentials", "credentials.yml"]
        workers = 1
    return Target(name, [("Rasa server", command, f"http://127.0.0.1:{port}/")], env, bot, workers, folder)


def train_bare_bot(folder: Path) -> tuple[Path, float]:
    bot = folder / "bare-bot"
    bot.mkdir()  # rasa init --init-dir wants an existing folder
    started = time.monotonic()
    with train_lock():
        subprocess.run(
            [str(dev.VENV_BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(bot)],
            cwd=folder,
            env=dev.env(RASA_TELEMETRY_ENABLED="false"),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            timeout=3600,
        )
    return bot, time.monotonic() - started


def train_triage_bot(folder: Path) -> float:
    """`rasa train` of this bot into a scratch folder (the shared model is left alone)."""
    dev.prepare()
    with train_lock():
        started = time.monotonic()
        # A cache of its own: Rasa would otherwise reuse what ./dev train cached in .rasa/cache.
        subprocess.run(
            [
                str(dev.VENV_BIN / "rasa"),
                "train",
                "--out",
                str(folder / "triage-models"),
                "--fixed-model-name",
                "bench",
            ],
            cwd=ROOT,
            env=dev.env(RASA_TELEMETRY_ENABLED="false", RASA_CACHE_DIRECTORY=str(folder / "cache")),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            timeout=3600,
        )
        return time.monotonic() - started


class train_lock:
    """The lock ./dev train holds: never two trainings at once on this machine."""

    def __enter__(self):
        dev.MODEL.parent.mkdir(exist_ok=True)
        self.handle = open(dev.MODEL.parent / ".train.lock", "w")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


# --- report --------------------------------------------------------------------------------


def table(results: list[ConfigResult], levels) -> str:
    head = ["configuration", "workers", "start-up s", "peak memory MB"]
    for conversations, _ in levels:
        head += [f"p50 ms @{conversations}", f"p95 ms @{conversations}", f"msg/s @{conversations}"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        if r.error:
            rows.append(f"| {r.name} | {r.workers} | failed: {r.error[:80]} |")
            continue
        cells = [r.name, str(r.workers), f"{r.startup_seconds:.0f}", f"{r.peak_rss_mb:,.0f}"]
        for conversations, _ in levels:
            lv = r.level(conversations)
            cells += (
                [f"{lv.p50_ms:,.0f}", f"{lv.p95_ms:,.0f}", f"{lv.messages_per_second:.1f}"] if lv else ["-", "-", "-"]
            )
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def targets(results: dict[str, ConfigResult], full: bool) -> list[str]:
    lines = []
    bare, prod2, prod1 = results.get("bare default"), results.get("triage prod 2w"), results.get("triage prod 1w")
    if bare and prod2 and bare.level(10) and prod2.level(10):
        ratio = prod2.level(10).p95_ms / bare.level(10).p95_ms
        lines.append(
            f"p95 at 10 conversations, triage prod 2w / bare default: {ratio:.2f}x "
            f"(target at most 1.5x): {'MET' if ratio <= 1.5 else 'MISSED'}"
        )
    if prod1 and prod2 and prod1.level(50) and prod2.level(50):
        ratio = prod2.level(50).messages_per_second / prod1.level(50).messages_per_second
        lines.append(
            f"messages/s at 50 conversations, 2 workers / 1 worker: {ratio:.2f}x "
            f"(target at least 1.6x): {'MET' if ratio >= 1.6 else 'MISSED'}"
        )
    if prod2 and prod2.big_run:
        big = prod2.big_run
        ok = not big["errors"] and big["check"].get("ok")
        lines.append(
            f"200 conversations x 10 turns: {big['acknowledged']}/{big['messages']} acknowledged, errors "
            f"{big['errors'] or 'none'}, PostgreSQL check {'OK' if big['check'].get('ok') else 'FAILED'} "
            f"(missing {big['check'].get('missing')}, duplicated {big['check'].get('duplicated')}, "
            f"out of order {big['check'].get('out_of_order')}); p50 {big['p50_ms']:,.0f} ms, "
            f"p95 {big['p95_ms']:,.0f} ms, {big['messages_per_second']:.1f} msg/s: "
            f"{'MET' if ok else 'MISSED'}"
        )
    elif full:
        lines.append("200 conversations x 10 turns: not run (the production configuration failed)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--full",
        action="store_true",
        help="every configuration, 50 conversations, training "
        "times and 200 x 10 conversations (about 30 minutes on 2 cores)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    levels = LEVELS_FULL if args.full else LEVELS_QUICK
    machine = f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
    print(f"Production benchmark ({'full' if args.full else 'quick'}), {machine}", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-production-"))
    databases: list[str] = []
    results: dict[str, ConfigResult] = {}
    training: dict[str, float] = {}
    services = local_services()
    services.__enter__()  # throwaway PostgreSQL and Redis, removed at the end
    try:
        model = dev.train()
        print("  training the bare `rasa init` bot", flush=True)
        bare_bot, training["bare bot (rasa init --no-prompt)"] = train_bare_bot(folder)
        if args.full:
            print("  training this bot into a scratch folder", flush=True)
            training["triage bot (rasa train)"] = train_triage_bot(folder)

        plan = [("bare default", lambda: bare_target("bare default", bare_bot, False, None, folder), True)]
        if args.full:
            plan.append(
                ("bare production", lambda: bare_target("bare production", bare_bot, True, new_db(), folder), True)
            )
        plan.append(("triage default", lambda: triage_target("triage default", False, 1, None, folder, model), False))
        if args.full:
            plan.append(
                ("triage prod 1w", lambda: triage_target("triage prod 1w", True, 1, new_db(), folder, model), False)
            )
        plan.append(
            ("triage prod 2w", lambda: triage_target("triage prod 2w", True, 2, new_db(), folder, model), False)
        )

        def new_db() -> str:
            databases.append(create_database("upwell_bench"))
            return databases[-1]

        for name, make, moodbot in plan:
            print(f"  {name}", flush=True)
            target = make()
            db_url = database_url(databases[-1]) if name.startswith("triage prod") else None
            results[name] = measure(
                target,
                levels,
                load_test.MOODBOT_SCRIPTS if moodbot else load_test.TRIAGE_SCRIPTS,
                db_url,
                big_run=args.full and name == "triage prod 2w",
            )
    finally:
        for database in databases:
            try:
                drop_database(database)
            except Exception:
                pass
        shutil.rmtree(folder, ignore_errors=True)
        services.__exit__(None, None, None)

    print()
    print(table(list(results.values()), levels))
    print()
    for what, seconds in training.items():
        print(f"training time, {what}: {seconds:.0f} s")
    for line in targets(results, args.full):
        print(line)
    print(f"(machine: {machine}; load average {os.getloadavg()[0]:.1f} at the end)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": machine, "training_seconds": training, "results": [asdict(r) for r in results.values()]},
                indent=2,
            )
        )
    return 1 if any(r.error for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
