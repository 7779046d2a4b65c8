"""Many concurrent multi-turn conversations over the REST channel, then a check in PostgreSQL
that every acknowledged message is stored, in order, once.

    python scripts/load_test.py --url http://127.0.0.1:5005 --conversations 200 --turns 10 \\
        --db-url postgresql://postgres@127.0.0.1:5432/upwell

Each simulated patient is an asyncio task that sends one message, waits for the answer, and
sends the next (no think time: this measures the server, not people's typing). A message is
*acknowledged* when the server answers 200 with a JSON list. Every message carries
`metadata: {"load_run": <run id>, "turn": <n>}`, which the tracker store keeps with the user
event, so the check can tell the turns apart even when a patient types the same thing twice:

- stored:   every acknowledged turn has a user event;
- in order: a conversation's user events are in turn order;
- once:     no turn is stored twice.

A turn that was not acknowledged (an error or a time-out) may or may not be stored; the report
counts those, and they are not failures of the check. Without --db-url only latency and
errors are reported (e.g. against a bot with the in-memory tracker store).

Output: a short report, or --json for the benchmark and the tests. Exit status 1 when a message
errored or the check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import aiohttp

# What patients with knee pain type, one script a patient (any turn past the end of a script
# takes the next question from FOLLOW_UPS). Written for load, not taken from any evaluation
# set; none raises a red flag, so conversations run the whole triage form.
# Each answers the four emergency questions that come first ("no" x4), then the routine ones.
_NO4 = ("no", "no", "no", "no")
TRIAGE_SCRIPTS: tuple[tuple[str, ...], ...] = (
    (
        "hi",
        "my knee hurts when I go down stairs",
        *_NO4,
        "around the kneecap",
        "it came on slowly",
        "about six weeks",
        "no",
        "no",
        "no",
        "no",
    ),
    (
        "hello there",
        "my knee aches after sitting through a long movie",
        *_NO4,
        "behind the kneecap",
        "gradually over a couple of months",
        "two months",
        "no I'm 34",
        "no",
        "no",
        "no",
    ),
    (
        "I get pain at the front of my knee when I run",
        *_NO4,
        "around the kneecap",
        "slowly",
        "about 3 weeks",
        "no",
        "no",
        "nope",
        "no",
        "what is runner's knee?",
    ),
    (
        "knee pain when squatting at the gym",
        "no",
        "no swelling",
        "no",
        "no",
        "just below the kneecap",
        "it built up slowly",
        "a month or so",
        "no",
        "no",
        "no",
        "no",
        "thanks",
    ),
    (
        "hey",
        "running downhill makes my knee sore",
        *_NO4,
        "front of the knee",
        "over time",
        "eight weeks",
        "no",
        "no",
        "no",
        "no",
        "why do you look at the hip?",
    ),
)
FOLLOW_UPS = (
    "what is runner's knee?",
    "why do you check the hip?",
    "should I rest?",
    "do knee braces help?",
    "thanks",
    "ok",
)

# A bare `rasa init` bot (the benchmark's comparison) understands other things.
MOODBOT_SCRIPTS: tuple[tuple[str, ...], ...] = (
    ("hello", "I am feeling sad", "yes", "thanks", "bye"),
    ("hi", "very bad", "no", "goodbye"),
    ("hey", "great", "are you a bot?", "bye"),
)


def script_for(index: int, turns: int, scripts: Sequence[Sequence[str]] = TRIAGE_SCRIPTS) -> list[str]:
    script = list(scripts[index % len(scripts)])
    extra = FOLLOW_UPS if scripts is TRIAGE_SCRIPTS else tuple(m for s in scripts for m in s)
    while len(script) < turns:
        script.append(extra[(index + len(script)) % len(extra)])
    return script[:turns]


@dataclass
class Turn:
    sender: str
    turn: int
    text: str
    status: int | None  # None: no answer (time-out, connection error)
    seconds: float
    error: str = ""
    bot_messages: int = 0
    started_at: float = 0.0  # time.perf_counter() when the message was sent

    @property
    def acknowledged(self) -> bool:
        return self.status == 200 and not self.error


@dataclass
class LoadReport:
    run_id: str
    conversations: int
    turns: int
    concurrency: int
    messages: int
    acknowledged: int
    errors: dict
    wall_seconds: float
    messages_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    empty_replies: int
    check: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and (not self.check or self.check.get("ok", False))

    def summary(self) -> str:
        lines = [
            f"run {self.run_id}: {self.conversations} conversations x {self.turns} turns, {self.concurrency} at a time",
            f"  messages {self.messages}, acknowledged {self.acknowledged}, errors "
            f"{sum(self.errors.values())} {dict(self.errors) or ''}".rstrip(),
            f"  latency p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, "
            f"max {self.max_ms:.0f} ms",
            f"  throughput {self.messages_per_second:.1f} messages/s over {self.wall_seconds:.1f} s",
        ]
        if self.empty_replies:
            lines.append(f"  answered with no bot message: {self.empty_replies}")
        if self.check:
            c = self.check
            lines.append(
                f"  PostgreSQL check: {'OK' if c['ok'] else 'FAILED'} - acknowledged {c['acknowledged']}, "
                f"missing {c['missing']}, out of order {c['out_of_order']}, duplicated {c['duplicated']}, "
                f"changed text {c['changed_text']}, stored without acknowledgement {c['stored_unacknowledged']}"
            )
        return "\n".join(lines)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


async def _conversation(
    session: aiohttp.ClientSession,
    url: str,
    sender: str,
    script: Sequence[str],
    run_id: str,
    timeout: float,
    results: list[Turn],
    stop: asyncio.Event | None = None,
) -> None:
    for number, text in enumerate(script):
        if stop is not None and stop.is_set():
            return
        body = {"sender": sender, "message": text, "metadata": {"load_run": run_id, "turn": number}}
        started = time.perf_counter()
        status, error, bot_messages = None, "", 0
        try:
            async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                status = response.status
                payload = await response.text()
                if status == 200:
                    try:
                        answer = json.loads(payload)
                        if not isinstance(answer, list):
                            error = "not_a_list"
                        else:
                            bot_messages = len(answer)
                    except ValueError:
                        error = "invalid_json"
                else:
                    try:
                        error = f"http_{status}:{json.loads(payload).get('code', '')}"
                    except (ValueError, AttributeError):
                        error = f"http_{status}"
        except asyncio.TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = f"connection:{type(exc).__name__}"
        results.append(Turn(sender, number, text, status, time.perf_counter() - started, error, bot_messages, started))


async def drive(
    base_url: str,
    conversations: int,
    turns: int,
    concurrency: int | None = None,
    run_id: str | None = None,
    timeout: float = 120.0,
    scripts: Sequence[Sequence[str]] = TRIAGE_SCRIPTS,
    new_connection_per_message: bool = True,
    stop: asyncio.Event | None = None,
    results: list[Turn] | None = None,
) -> tuple[str, list[Turn], float]:
    """Runs the conversations; (run id, every turn, wall seconds). With `stop`, conversations end
    early once it is set; `results` (a list) lets a caller watch turns as they finish."""
    run_id = run_id or f"load{secrets.token_hex(4)}"
    concurrency = concurrency or conversations
    url = base_url.rstrip("/") + "/webhooks/rest/webhook"
    gate = asyncio.Semaphore(concurrency)
    results = [] if results is None else results
    # A new connection a message spreads load over the Sanic workers (they share one listening
    # socket and an idle worker takes the next connection), as separate patients would.
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=new_connection_per_message)

    async def one(index: int, session: aiohttp.ClientSession) -> None:
        async with gate:
            await _conversation(
                session, url, f"{run_id}-{index:05d}", script_for(index, turns, scripts), run_id, timeout, results, stop
            )

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(i, session) for i in range(conversations)))
    return run_id, results, time.perf_counter() - started


def check_stored(db_url: str, run_id: str, results: Sequence[Turn]) -> dict:
    """Compares what the clients were told with what PostgreSQL holds (see module docstring)."""
    import psycopg2

    sent = {(t.sender, t.turn): t for t in results}
    stored: dict[str, list[tuple[int, str]]] = {}
    connection = psycopg2.connect(db_url, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "select sender_id, data from events where type_name = 'user' and sender_id like %s order by id",
                (f"{run_id}-%",),
            )
            rows = cursor.fetchall()
    finally:
        connection.close()
    for sender, data in rows:
        event = json.loads(data)
        meta = event.get("metadata") or {}
        if meta.get("load_run") == run_id and isinstance(meta.get("turn"), int):
            stored.setdefault(sender, []).append((meta["turn"], event.get("text")))
    missing = out_of_order = duplicated = changed_text = stored_unacknowledged = 0
    for sender in {t.sender for t in results}:
        rows = stored.get(sender, [])
        numbers = [n for n, _ in rows]
        counts = Counter(numbers)
        duplicated += sum(c - 1 for c in counts.values() if c > 1)
        out_of_order += sum(1 for a, b in zip(numbers, numbers[1:], strict=False) if b <= a)
        for number, text in rows:
            turn = sent.get((sender, number))
            if turn is not None and text != turn.text:
                changed_text += 1
            if turn is not None and not turn.acknowledged:
                stored_unacknowledged += 1
        for turn in (t for t in results if t.sender == sender and t.acknowledged):
            if turn.turn not in counts:
                missing += 1
    acknowledged = sum(1 for t in results if t.acknowledged)
    return {
        "ok": missing == out_of_order == duplicated == changed_text == 0,
        "acknowledged": acknowledged,
        "missing": missing,
        "out_of_order": out_of_order,
        "duplicated": duplicated,
        "changed_text": changed_text,
        "stored_unacknowledged": stored_unacknowledged,
    }


def report(
    run_id: str,
    results: Sequence[Turn],
    wall: float,
    conversations: int,
    turns: int,
    concurrency: int,
    db_url: str | None = None,
) -> LoadReport:
    acknowledged = [t for t in results if t.acknowledged]
    latencies = [t.seconds * 1000 for t in acknowledged]
    errors = Counter(t.error or f"http_{t.status}" for t in results if not t.acknowledged)
    result = LoadReport(
        run_id=run_id,
        conversations=conversations,
        turns=turns,
        concurrency=concurrency,
        messages=len(results),
        acknowledged=len(acknowledged),
        errors=dict(errors),
        wall_seconds=wall,
        messages_per_second=len(acknowledged) / wall if wall else 0.0,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies, default=0.0),
        empty_replies=sum(1 for t in acknowledged if t.bot_messages == 0),
    )
    if db_url:
        result.check = check_stored(db_url, run_id, results)
    return result


def run_load(
    base_url: str,
    conversations: int,
    turns: int,
    concurrency: int | None = None,
    db_url: str | None = None,
    timeout: float = 120.0,
    scripts: Sequence[Sequence[str]] = TRIAGE_SCRIPTS,
    new_connection_per_message: bool = True,
) -> LoadReport:
    """Drives the conversations and checks PostgreSQL (when db_url is given); the report."""
    concurrency = concurrency or conversations
    run_id, results, wall = asyncio.run(
        drive(
            base_url,
            conversations,
            turns,
            concurrency,
            timeout=timeout,
            scripts=scripts,
            new_connection_per_message=new_connection_per_message,
        )
    )
    return report(run_id, results, wall, conversations, turns, concurrency, db_url)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:5005", help="the Rasa server")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--concurrency", type=int, help="conversations at a time (default: all)")
    parser.add_argument("--db-url", help="the tracker store's PostgreSQL URL, for the stored-messages check")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one answer")
    parser.add_argument("--keep-alive", action="store_true", help="one connection a patient instead of one a message")
    parser.add_argument("--moodbot", action="store_true", help="messages for a bare `rasa init` bot")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run_load(
        args.url,
        args.conversations,
        args.turns,
        args.concurrency,
        args.db_url,
        args.timeout,
        MOODBOT_SCRIPTS if args.moodbot else TRIAGE_SCRIPTS,
        not args.keep_alive,
    )
    print(json.dumps(asdict(result), indent=2) if args.json else result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
