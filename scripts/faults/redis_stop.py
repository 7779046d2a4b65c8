"""Fault: Redis (the lock store) stops, then comes back.

    python scripts/faults/redis_stop.py

With Redis gone no message can be handled safely (two workers could handle one conversation at
once). What must happen:

- a clear error: 503 with a plain sentence, code `lock_store_unavailable` and Retry-After, fast
  (not after a long hang), for an ongoing and for a new conversation;
- no corrupted conversation: PostgreSQL holds exactly what it held before, nothing half-saved;
- when Redis is back, the same message (sent again, as Retry-After asks) is handled and the
  conversation carries on where it was; new conversations work.

Redis is running again when this ends, whatever happens.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faults.production_stack import (
    Conversation,
    FaultResult,
    ProductionStack,
    location_answer_taken,
    start_redis,
    start_triage,
    stop_redis,
)

CLEAR_ERROR_SECONDS = 30  # Rasa's Redis socket time-out is 10 s; anything near this is a hang


def event_count(stack: ProductionStack, sender: str) -> int:
    import psycopg2

    connection = psycopg2.connect(stack.db_url, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("select count(*) from events where sender_id = %s", (sender,))
            return cursor.fetchone()[0]
    finally:
        connection.close()


def send_until_accepted(conversation: Conversation, text: str, attempts: int = 5) -> tuple[int, str]:
    """Sends a message again after a 503, as its Retry-After asks (a client's job)."""
    status, replies = conversation.say(text)
    for _ in range(attempts - 1):
        if status != 503:
            break
        time.sleep(2)
        status, replies = conversation.say(text)
    return status, replies


def check(stack: ProductionStack) -> FaultResult:
    problems: list[str] = []
    info: list[str] = []
    ongoing = Conversation(stack, "redis-ongoing")
    problem = start_triage(ongoing)
    if problem:
        return FaultResult("Redis stops", False, [problem])
    events_before = event_count(stack, ongoing.sender)

    stop_redis()
    try:
        for label, conversation in (
            ("an ongoing conversation", ongoing),
            ("a new conversation", Conversation(stack, "redis-new")),
        ):
            started = time.monotonic()
            status, answer = stack.send(conversation.sender, "around the kneecap" if conversation is ongoing else "hi")
            seconds = time.monotonic() - started
            code = answer.get("code") if isinstance(answer, dict) else None
            error = answer.get("error", "") if isinstance(answer, dict) else ""
            if status != 503 or code != "lock_store_unavailable" or not error.endswith("."):
                problems.append(f"{label} with Redis down got {status} {str(answer)[:160]!r}, not a clear 503")
            elif seconds > CLEAR_ERROR_SECONDS:
                problems.append(f"{label} waited {seconds:.0f} s for its error")
            else:
                info.append(f"{label} with Redis down: 503 in {seconds:.1f} s: {error!r}")
        if event_count(stack, ongoing.sender) != events_before:
            problems.append("the conversation changed in PostgreSQL while Redis was down (half-handled message)")
    finally:
        start_redis()

    status, replies = send_until_accepted(ongoing, "around the kneecap")
    problem = location_answer_taken(ongoing, status, replies)
    if problem:
        problems.append(f"after Redis came back the conversation did not carry on: {problem}")
    else:
        info.append(f"after Redis came back the triage went on to {ongoing.slots().get('requested_slot')!r}")
    fresh = Conversation(stack, "redis-after")
    problem = start_triage(fresh)
    if problem:
        problems.append(f"a new conversation after Redis came back: {problem}")
    for conversation in (ongoing, fresh):
        if not conversation.stored_as_sent():
            problems.append(f"PostgreSQL does not hold {conversation.sender}'s acknowledged messages in order, once")
    return FaultResult("Redis stops and comes back", not problems, problems + [f"(info) {i}" for i in info])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        with ProductionStack(workers=args.workers) as stack:
            result = check(stack)
    finally:
        start_redis()
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
