"""Fault: the action server stops mid-conversation, then comes back.

    python scripts/faults/action_server.py

What a patient must see:
- mid-form, with the action server gone, an answer that says to try again (never silence);
- a red flag still escalates at once (the safety policy runs inside the Rasa server), and the
  triage record says so;
- when the action server is back, the interrupted conversation carries on where it was (the
  same answer now fills in the triage record) and new conversations work;
- every acknowledged message is in PostgreSQL, in order, once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faults.production_stack import (
    Conversation,
    FaultResult,
    ProductionStack,
    location_answer_taken,
    start_triage,
)

RED_FLAG = "I have crushing chest pain and can't breathe"


def check(stack: ProductionStack) -> FaultResult:
    problems: list[str] = []
    info: list[str] = []
    mid_form = Conversation(stack, "actions-mid-form")
    red_flag = Conversation(stack, "actions-red-flag")
    for conversation in (mid_form, red_flag):
        problem = start_triage(conversation)
        if problem:
            return FaultResult("action server stops", False, [problem])

    stack.stop_service("action server")
    try:
        # Mid-form: the form's validation lives in the action server.
        status, replies = mid_form.say("around the kneecap")
        if status != 200 or not replies.strip():
            problems.append(f"mid-form with the action server down: {status}, reply {replies[:120]!r} (silence)")
        else:
            info.append(f"mid-form reply with the action server down: {replies[:160]!r}")

        status, replies = red_flag.say(RED_FLAG)
        slots = red_flag.slots()
        if status != 200 or "000" not in replies:
            problems.append(f"a red flag with the action server down did not escalate: {status} {replies[:160]!r}")
        if slots.get("triage_level") != "emergency_ambulance" or "cardiorespiratory" not in (
            slots.get("red_flags") or []
        ):
            problems.append(
                f"the triage record missed the red flag: level {slots.get('triage_level')!r}, "
                f"red_flags {slots.get('red_flags')!r}"
            )
    finally:
        restarted = stack.start_service("action server")
    info.append(f"action server back in {restarted:.1f} s")

    # Recovery: the interrupted conversation takes the same answer again and moves on.
    status, replies = mid_form.say("around the kneecap")
    problem = location_answer_taken(mid_form, status, replies)
    if problem:
        problems.append(f"after the action server came back the interrupted triage did not carry on: {problem}")
    else:
        info.append(f"after recovery the triage asks for {mid_form.slots().get('requested_slot')!r}")

    fresh = Conversation(stack, "actions-after")
    problem = start_triage(fresh)
    if problem:
        problems.append(f"a new conversation after recovery: {problem}")
    else:
        fresh.say("around the kneecap")
        if fresh.slots().get("pain_location") != "around_kneecap":
            problems.append("a new conversation after recovery did not record where it hurts")

    for conversation in (mid_form, red_flag, fresh):
        if not conversation.stored_as_sent():
            problems.append(
                f"PostgreSQL does not hold {conversation.sender}'s acknowledged messages in order, once: "
                f"{json.dumps(conversation.stack.stored_user_texts(conversation.sender))[:200]}"
            )
    return FaultResult("action server stops mid-conversation", not problems, problems + [f"(info) {i}" for i in info])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    started = time.monotonic()
    with ProductionStack(workers=args.workers) as stack:
        result = check(stack)
    print(result.summary())
    print(f"(took {time.monotonic() - started:.0f} s including start-up)")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
