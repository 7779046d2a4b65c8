"""Fair use under a flood: the patients' latency with and without one sender flooding, and that
none of their messages is lost or left without a reply.

    python scripts/fairness_load.py                 # starts the bot (the trained model) on free ports
    python scripts/fairness_load.py --url http://127.0.0.1:5005    # a bot already running

Simulated patients (100, 10 turns each, the triage scripts of scripts/load_test.py) talk through
the REST channel, each from an address of its own (`X-Forwarded-For`), first alone and then while
one sender floods: one conversation id, one address, `--flood-rate` messages a second, without
waiting for answers. The bot must trust the forwarded address and limit loopback too
(`SANIC_PROXIES_COUNT=1 FAIR_USE_TRUSTED_ADDRESSES=none`); the bot this script starts has both,
the production listen backlog (`SANIC_BACKLOG=1024`) and the default limits (channels/settings.py).
The flood carries no red flag, so past the limit every flood message is refused (429).

For each run it prints the patients' p50 and p95, messages lost (not acknowledged with 200, or
acknowledged but not in the tracker store, when the store can be read: the SQLite of the bot it
starts, or `--db-url`), messages with no reply (200 with no bot message) and messages answered
only with the apology, and what happened to the flood. Exit status 1 when a patient message was
lost or had no reply. Under 3 minutes with the trained model on an idle machine of 2 cores,
start-up included; the runs take as long as the bot needs for 1,000 messages each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import percentile, script_for

FLOOD_ADDRESS = "10.99.0.1"
FLOOD_IN_FLIGHT = 256  # the flood waits for answers only when this many are pending
# The bot started here: forwarded addresses trusted (one proxy in front), loopback limited too, and
# the production profile's listen backlog (scripts/dev.py production_env): with Rasa's 100, flood
# connections waiting to be accepted crowd patients' connections out in the kernel, before any
# limit is read.
STACK_ENV = {"SANIC_PROXIES_COUNT": "1", "FAIR_USE_TRUSTED_ADDRESSES": "none", "SANIC_BACKLOG": "1024"}


def patient_address(index: int) -> str:
    return f"10.1.{index // 250}.{index % 250 + 1}"


@dataclass
class Sent:
    sender: str
    turn: int
    status: int | None  # None: no answer (time-out, connection error)
    seconds: float
    replies: list = field(default_factory=list)  # the bot messages' texts (200 only)
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.status == 200 and not self.error


@dataclass
class RunReport:
    name: str
    patients: int
    turns: int
    messages: int
    acknowledged: int
    p50_ms: float
    p95_ms: float
    not_acknowledged: dict
    not_stored: int | None  # None: the tracker store was not checked
    no_reply: int
    apology_only: int
    flood: dict
    wall_seconds: float

    @property
    def lost(self) -> int:
        return self.messages - self.acknowledged + (self.not_stored or 0)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.no_reply == 0

    def summary(self) -> str:
        stored = "not checked" if self.not_stored is None else f"{self.not_stored} acknowledged but not stored"
        lines = [
            f"{self.name}: {self.patients} patients x {self.turns} turns in {self.wall_seconds:.1f} s",
            f"  patients: p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms",
            f"  lost: {self.lost} (not acknowledged {self.messages - self.acknowledged} "
            f"{self.not_acknowledged or ''}; {stored})".replace(" )", ")"),
            f"  no reply: {self.no_reply}; answered only with the apology: {self.apology_only}",
        ]
        if self.flood:
            f = self.flood
            lines.append(
                f"  flood: {f['sent']} sent ({f['sent'] / max(self.wall_seconds, 0.001):.1f}/s), "
                f"{f['refused']} refused (429), {f['handled']} handled, other {f['other']}"
            )
        return "\n".join(lines)


async def _post(
    session: aiohttp.ClientSession, url: str, sender: str, text: str, address: str, metadata: dict, timeout: float
) -> Sent:
    started = time.perf_counter()
    status, replies, error = None, [], ""
    try:
        async with session.post(
            url,
            json={"sender": sender, "message": text, "metadata": metadata},
            headers={"X-Forwarded-For": address},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            status = response.status
            body = await response.text()
            if status == 200:
                try:
                    replies = [m.get("text") or "" for m in json.loads(body)]
                except (ValueError, AttributeError, TypeError):
                    error = "invalid_json"
            else:
                try:
                    error = f"http_{status}:{json.loads(body).get('code', '')}"
                except (ValueError, AttributeError):
                    error = f"http_{status}"
    except asyncio.TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as exc:
        error = f"connection:{type(exc).__name__}"
    return Sent(sender, metadata.get("turn", -1), status, time.perf_counter() - started, replies, error)


async def _patient(
    session: aiohttp.ClientSession, url: str, run_id: str, index: int, turns: int, timeout: float, results: list
) -> None:
    sender = f"{run_id}-p{index:03d}"
    for number, text in enumerate(script_for(index, turns)):
        results.append(
            await _post(
                session, url, sender, text, patient_address(index), {"load_run": run_id, "turn": number}, timeout
            )
        )


async def _flood(
    session: aiohttp.ClientSession,
    url: str,
    run_id: str,
    rate: float,
    stop: asyncio.Event,
    timeout: float,
    results: list,
    at_least: int = 0,
) -> None:
    loop = asyncio.get_running_loop()
    pending: set = set()
    number, next_at = 0, loop.time()
    while not stop.is_set() or number < at_least:
        number += 1
        task = asyncio.create_task(
            _post(
                session,
                url,
                f"{run_id}-flood",
                f"hello again {number}",
                FLOOD_ADDRESS,
                {"load_run": run_id, "turn": number},
                timeout,
            )
        )
        task.add_done_callback(lambda done: results.append(done.result()))
        pending.add(task)
        task.add_done_callback(pending.discard)
        if len(pending) >= FLOOD_IN_FLIGHT:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    if pending:
        await asyncio.wait(pending)


async def run(
    base_url: str,
    name: str,
    patients: int = 100,
    turns: int = 10,
    flood_rate: float = 0.0,
    db_url: str | None = None,
    timeout: float = 120.0,
    flood_at_least: int = 0,
) -> RunReport:
    """One run: the patients' conversations, with a flood alongside when `flood_rate` > 0 (and at
    least `flood_at_least` flood messages, however fast the patients are answered)."""
    run_id = f"fair{secrets.token_hex(3)}"
    url = base_url.rstrip("/") + "/webhooks/rest/webhook"
    sent: list[Sent] = []
    flood: list[Sent] = []
    stop = asyncio.Event()
    started = time.perf_counter()
    # A connection a message, as separate people's phones and browsers would open.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as session:
        flooding = (
            asyncio.create_task(_flood(session, url, run_id, flood_rate, stop, timeout, flood, flood_at_least))
            if flood_rate > 0
            else None
        )
        await asyncio.gather(*(_patient(session, url, run_id, i, turns, timeout, sent) for i in range(patients)))
        wall = time.perf_counter() - started
        stop.set()
        if flooding is not None:
            await flooding
    return report(name, run_id, sent, flood, patients, turns, wall, db_url)


def report(
    name: str,
    run_id: str,
    sent: Sequence[Sent],
    flood: Sequence[Sent],
    patients: int,
    turns: int,
    wall: float,
    db_url: str | None,
) -> RunReport:
    from channels.settings import NO_REPLY

    apology = NO_REPLY.split(".")[0]
    acknowledged = [s for s in sent if s.acknowledged]
    latencies = [s.seconds * 1000 for s in acknowledged]
    flood_statuses = Counter(s.status for s in flood)
    return RunReport(
        name=name,
        patients=patients,
        turns=turns,
        messages=len(sent),
        acknowledged=len(acknowledged),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        not_acknowledged=dict(Counter(s.error or f"http_{s.status}" for s in sent if not s.acknowledged)),
        not_stored=_not_stored(db_url, run_id, acknowledged) if db_url else None,
        no_reply=sum(1 for s in acknowledged if not s.replies),
        apology_only=sum(1 for s in acknowledged if s.replies and all(r.startswith(apology) for r in s.replies)),
        flood={
            "sent": len(flood),
            "refused": flood_statuses.get(429, 0),
            "handled": flood_statuses.get(200, 0),
            "other": len(flood) - flood_statuses.get(429, 0) - flood_statuses.get(200, 0),
        }
        if flood
        else {},
        wall_seconds=wall,
    )


def _not_stored(db_url: str, run_id: str, acknowledged: Sequence[Sent]) -> int:
    """Acknowledged patient turns with no user event in the tracker store (Rasa's `events` table)."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("select sender_id, data from events where type_name = 'user' and sender_id like :p"),
                {"p": f"{run_id}-p%"},
            ).fetchall()
    finally:
        engine.dispose()
    stored = set()
    for sender, data in rows:
        meta = json.loads(data).get("metadata") or {}
        if meta.get("load_run") == run_id:
            stored.add((sender, meta.get("turn")))
    return sum(1 for s in acknowledged if (s.sender, s.turn) not in stored)


async def compare(
    base_url: str, patients: int, turns: int, flood_rate: float, db_url: str | None, timeout: float
) -> list[RunReport]:
    alone = await run(base_url, "patients alone", patients, turns, 0.0, db_url, timeout)
    flooded = await run(
        base_url, f"patients while one sender floods ({flood_rate:g}/s)", patients, turns, flood_rate, db_url, timeout
    )
    return [alone, flooded]


def _started_bot_reports(args: argparse.Namespace) -> list[RunReport]:
    import dev
    from stack import running_stack

    if not dev.MODEL.exists():
        raise SystemExit(f"No trained model at {dev.MODEL}: run ./dev train first.")
    os.environ.update(STACK_ENV)  # the bot's processes inherit it (dev.env)
    with tempfile.TemporaryDirectory(prefix="fairness-") as folder:
        print("starting the bot ...", flush=True)
        with running_stack(Path(folder), model=dev.MODEL) as stack:
            return asyncio.run(
                compare(
                    stack.rasa_url,
                    args.patients,
                    args.turns,
                    args.flood_rate,
                    f"sqlite:///{stack.tracker_db}",
                    args.timeout,
                )
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running bot (default: start one with the trained model)")
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--flood-rate", type=float, default=50.0, help="flood messages a second")
    parser.add_argument("--db-url", help="the tracker store (SQLAlchemy URL) of the bot at --url, to check storage")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.url:
        reports = asyncio.run(compare(args.url, args.patients, args.turns, args.flood_rate, args.db_url, args.timeout))
    else:
        reports = _started_bot_reports(args)
    if args.json:
        print(json.dumps([{**asdict(r), "lost": r.lost} for r in reports], indent=2))
    else:
        print("\n".join(r.summary() for r in reports))
        print(
            f"p95 with the flood / alone: {reports[1].p95_ms / max(reports[0].p95_ms, 1):.2f} x; "
            f"{time.perf_counter() - started:.0f} s in all"
        )
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
