"""What checking one action server answer costs: Rasa's way, and the project's (schema compiled once).

Every call from the Rasa server to the action server (most turns of the triage questions, every
booking step) ends with Rasa checking the answer against its JSON schema. Rasa 3.6 checks the
schema itself against the JSON Schema meta-schema each time; components/action_response_check.py
does that once. This prints the median and 95th percentile of both, on an answer shaped as the
project's action server sends it (rasa_sdk events and a dispatcher message with buttons).

    python scripts/bench_action_check.py
    python scripts/bench_action_check.py --repeats 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def typical_answer() -> dict[str, Any]:
    """A triage form turn: the answer taken, the next question asked with buttons."""
    from rasa_sdk.events import SlotSet
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(
        text="How did it start?",
        buttons=[
            {"title": "Slowly, over time", "payload": '/inform{"onset":"gradual"}'},
            {"title": "With an injury", "payload": '/inform{"onset":"injury"}'},
            {"title": "Not sure", "payload": "/unsure"},
        ],
    )
    events = [
        SlotSet("pain_location", "around_kneecap"),
        SlotSet("pain_triggers", ["stairs", "sitting"]),
        SlotSet("requested_slot", "onset"),
    ]
    return {"events": events, "responses": dispatcher.messages}


def time_calls(check: Callable[[Any, dict[str, Any]], bool], answer: dict[str, Any], repeats: int) -> list[float]:
    from rasa.core.actions.action import RemoteAction

    action = RemoteAction("validate_triage_form", None)
    check(action, answer)  # warm up
    took = []
    for _ in range(repeats):
        started = time.perf_counter()
        check(action, answer)
        took.append((time.perf_counter() - started) * 1000)
    return took


def main(argv: list[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)

    from components import action_response_check
    from load_test import percentile

    answer = typical_answer()
    rows = (
        ("Rasa 3.6 (schema checked every call)", action_response_check.RASA_VALIDATE),
        ("this project (schema compiled once)", action_response_check.validate_action_result),
    )
    print(f"checking one action server answer, {args.repeats} times each:")
    for label, check in rows:
        took = time_calls(check, answer, args.repeats)
        print(f"  {label:<40} median {statistics.median(took):6.2f} ms   p95 {percentile(took, 95):6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
