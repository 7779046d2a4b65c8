"""Fault: PostgreSQL restarts while many conversations are under way.

    python scripts/faults/postgres_restart.py [--conversations 20]

Conversations run without pause over the REST channel (scripts/load_test.py). Once each has a
few answered turns, this machine's PostgreSQL cluster is restarted with a fast shutdown (open
connections are cut, as in a fail-over), and the conversations go on until each has a few more
answered turns. Then:

- no acknowledged message is lost: every one is in PostgreSQL, in order, once;
- conversations continue: every conversation was answered after the restart;
- nobody got an error while the restart took less than the tracker store's retry budget
  (TRACKER_STORE_RETRY_SECONDS); a longer outage may give 503s, never a lost message;
- the restart really hit traffic: some requests were in flight during it.

A second check (check_long_outage) makes the conversation's database refuse connections for
longer than the retry budget, without touching other databases: the message gets a clear 503
(`tracker_store_unavailable`, Retry-After), nothing is half-stored, and the same message sent
again once the database is back is stored once.

PostgreSQL is running again when this ends, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import load_test
from faults.production_stack import (
    Conversation,
    FaultResult,
    ProductionStack,
    _admin_connection,
    ensure_postgres_running,
    location_answer_taken,
    restart_postgres,
    start_triage,
)

TURNS_BEFORE = 3  # answered turns each conversation has before the restart
TURNS_AFTER = 3  # and after it
WAIT_SECONDS = 600


async def _scenario(stack: ProductionStack, conversations: int):
    stop = asyncio.Event()
    results: list[load_test.Turn] = []
    run = asyncio.create_task(
        load_test.drive(stack.rasa_url, conversations, turns=10_000, stop=stop, results=results, timeout=180)
    )

    async def until(condition, what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            if run.done():
                await run  # raises what went wrong
                raise RuntimeError(f"the load ended before {what}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gave up waiting for {what}")
            await asyncio.sleep(0.2)

    def answered_each(since: float, count: int) -> bool:
        answered = Counter(t.sender for t in results if t.acknowledged and t.started_at >= since)
        return len(answered) == conversations and min(answered.values()) >= count

    try:
        await until(lambda: answered_each(0.0, TURNS_BEFORE), "the conversations got going")
        restart_started = time.perf_counter()
        restart_seconds = await asyncio.get_running_loop().run_in_executor(None, restart_postgres)
        restart_ended = time.perf_counter()
        await until(lambda: answered_each(restart_ended, TURNS_AFTER), "every conversation was answered again")
    finally:
        stop.set()
        run_id, results, wall = await run
    return run_id, results, wall, restart_started, restart_ended, restart_seconds


def check(stack: ProductionStack, conversations: int = 20) -> FaultResult:
    try:
        run_id, results, wall, started, ended, seconds = asyncio.run(_scenario(stack, conversations))
    finally:
        ensure_postgres_running()
    report = load_test.report(run_id, results, wall, conversations, 0, conversations, stack.db_url)
    in_flight = sum(1 for t in results if t.started_at < ended and t.started_at + t.seconds > started)
    problems: list[str] = []
    check_ = report.check
    if not check_["ok"]:
        problems.append(
            f"acknowledged messages lost or disordered: missing {check_['missing']}, "
            f"out of order {check_['out_of_order']}, duplicated {check_['duplicated']}, "
            f"changed {check_['changed_text']}"
        )
    if in_flight == 0:
        problems.append("no request was in flight during the restart: the check proves nothing")
    if report.errors:
        budget = stack.retry_seconds
        only_unavailable = set(report.errors) <= {"http_503:tracker_store_unavailable"}
        if seconds < budget - 2 or not only_unavailable:
            problems.append(f"errors during a {seconds:.1f} s restart (retry budget {budget:.0f} s): {report.errors}")
    info = [
        f"PostgreSQL restart took {seconds:.1f} s; {in_flight} requests were in flight during it",
        f"{report.messages} messages in {conversations} conversations, {report.acknowledged} acknowledged, "
        f"errors {report.errors or 'none'}; p95 {report.p95_ms:.0f} ms, max {report.max_ms:.0f} ms",
        f"PostgreSQL holds every acknowledged message in order, once: {'yes' if check_['ok'] else 'NO'}",
    ]
    return FaultResult("PostgreSQL restarts under load", not problems, problems + [f"(info) {i}" for i in info])


def refuse_connections(database: str, refuse: bool) -> None:
    """Makes one database refuse (or accept again) new connections and cuts its open ones: an
    outage of that database alone, which other users of this PostgreSQL do not notice."""
    connection = _admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {"false" if refuse else "true"}')
            if refuse:
                cursor.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity "
                    "where datname = %s and pid <> pg_backend_pid()",
                    (database,),
                )
    finally:
        connection.close()


def check_long_outage(stack: ProductionStack) -> FaultResult:
    problems: list[str] = []
    info: list[str] = []
    conversation = Conversation(stack, "pg-outage")
    problem = start_triage(conversation)
    if problem:
        return FaultResult("PostgreSQL outage longer than the retry budget", False, [problem])
    refuse_connections(stack.database, True)
    try:
        started = time.monotonic()
        status, answer = stack.send(conversation.sender, "around the kneecap")
        seconds = time.monotonic() - started
    finally:
        refuse_connections(stack.database, False)
    code = answer.get("code") if isinstance(answer, dict) else None
    if status != 503 or code != "tracker_store_unavailable":
        problems.append(
            f"a message during a long database outage got {status} {str(answer)[:160]!r}, "
            "not a 503 saying it was not stored"
        )
    else:
        info.append(
            f"during the outage: 503 after {seconds:.1f} s (retry budget {stack.retry_seconds:.0f} s): "
            f"{answer.get('error')!r}"
        )
    status, replies = conversation.say("around the kneecap")
    problem = location_answer_taken(conversation, status, replies)
    if problem:
        problems.append(f"the message sent again after the outage: {problem}")
    if not conversation.stored_as_sent():
        problems.append(
            f"PostgreSQL holds {stack.stored_user_texts(conversation.sender)!r}, "
            f"expected {conversation.acknowledged!r} (the refused message must not be stored)"
        )
    return FaultResult(
        "PostgreSQL outage longer than the retry budget", not problems, problems + [f"(info) {i}" for i in info]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        with ProductionStack(workers=args.workers) as stack:
            results = [check(stack, args.conversations), check_long_outage(stack)]
    finally:
        ensure_postgres_running()
    for result in results:
        print(result.summary())
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
