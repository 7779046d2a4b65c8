"""The patient simulator: plays patient personas against the running bot and checks every reply.

    python scripts/simulate.py tests/personas/blind/set1.yml [more.yml ...] [--show] [--json F]
    python scripts/simulate.py PERSONAS.yml --url http://127.0.0.1:5005 --token T   # a running bot

Without --url it starts the product itself (scripts/stack.py: the trained model, the action server
over real HTTP, an SQLite tracker store in a temporary folder).

A persona (written by someone who saw neither the rules nor the training data) has a first
message, its own answer to every question the bot can ask, asides it asks mid-interview, whether
it asks to book early, what it wants at the end, and what a fair clinician would record. The
simulator sends the first message, then answers whatever the bot asks, the way the persona would
(`TAP: <title>` taps that button, as the widget would send its payload), and reads the record from
the tracker at the end. Which question was asked comes from the tracker (the form's requested slot
and the name of each response), not from the reply's wording.

Per conversation it checks: every patient message got a reply; no answer was asked again straight
after it was given; no fallback to an answer or an aside; every expected red flag raised and none
other; the level at least the contract minimum (and not urgent without a red flag); the record's
location, onset, duration and triggers; a booking stored when wanted (never after an emergency).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bot import policy  # noqa: E402  (after the path set-up)
from bot.contract import RED_FLAG_MIN_LEVEL, TRIAGE_LEVELS  # noqa: E402  (after the path set-up)

MAX_TURNS = 60
SAME_ANSWER = {"more_triggers": "pain_triggers"}
TRACKER_TRIES = 120  # seconds to wait for a conversation still being handled (409) before giving up
# What the persona types when its script says so (the wording of these is not what is tested).
ASK_TO_BOOK = "Can I book an appointment please?"
ASK_FOR_PERSON = "Can I talk to a real person?"
ASK_FOR_INFORMATION = "What can I do to help my knee?"
# Responses that mean the bot did not understand.
FALLBACKS = {"utter_default", "utter_need_a_choice", "utter_out_of_scope"}
NEVER_SILENT = "never_silent"  # components/never_silent.py: the apology when a turn said nothing
# Yes-like buttons the persona taps on the booking steps its script has no answer for (consent,
# the final check, a list of free times: it takes the first).
AGREE = re.compile(r"^(yes|ok|okay|agree|i agree|send|send it|yes, send it|book|confirm|call me)\b", re.I)
# What a persona may want at the end, in the words writers use for it.
WANTS = {"info": "information", "call back": "callback", "call-back": "callback"}
# Questions of the booking flow a persona who wants to book says yes to (it has no scripted answer).
AGREE_TO = {"booking_consent", "booking_confirmed", "appointment_slot", "clinic_location"}
PICK_FIRST = {"appointment_slot", "clinic_location"}
# A persona whose answer was not taken tries it this many times, then taps a button or skips.
GIVE_UP_AFTER = 2
BOOKED = {"requested", "booked", "pending", "confirmed", "delivered", "sent"}


def question_key(slot: str | None, form: str | None) -> str | None:
    """The persona's answer key for a form's requested slot."""
    if not slot:
        return None
    if form == "callback_form" and slot in ("contact", "preferred_times"):
        return f"callback_{slot}"
    return slot


@dataclass
class Client:
    url: str
    token: str

    def send(self, text: str, sender: str) -> list[dict]:
        body = json.dumps({"sender": sender, "message": text}).encode()
        request = urllib.request.Request(
            f"{self.url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=90) as response:
            return json.loads(response.read())

    def tracker(self, sender: str) -> dict:
        request = urllib.request.Request(f"{self.url}/conversations/{sender}/tracker?token={self.token}")
        for attempt in range(TRACKER_TRIES):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as error:  # 409: the conversation is still being handled
                if error.code != 409 or attempt == TRACKER_TRIES - 1:
                    raise
                time.sleep(1)
        raise AssertionError("unreachable")


@dataclass
class Turn:
    text: str
    kind: str  # first | answer:<key> | aside | script
    replies: list[str]
    responses: list[str]
    asked: str | None


@dataclass
class Outcome:
    persona: str
    turns: list[Turn] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    asked_again: int = 0
    answers: int = 0
    record: dict[str, bool | None] = field(default_factory=dict)
    slots: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems


def _last_turn_events(tracker: dict) -> list[dict]:
    events = tracker.get("events") or []
    for i in range(len(events) - 1, -1, -1):
        if events[i].get("event") == "user":
            return events[i + 1 :]
    return events


def _tap(replies: list[dict], title: str) -> str:
    for reply in replies:
        for button in reply.get("buttons") or []:
            if button.get("title", "").strip().lower() == title.strip().lower():
                return button.get("payload") or title
    return title  # as typed on SMS


def _agree(replies: list[dict], first: bool = False) -> str | None:
    buttons = [b for r in replies for b in (r.get("buttons") or [])]
    for button in buttons:
        if first or AGREE.match(button.get("title", "")):
            return button.get("payload") or button["title"]
    return None


def _give_up(replies: list[dict], answer: str) -> str:
    titles = [b.get("title", "") for r in replies for b in (r.get("buttons") or [])]
    if answer.upper().startswith("TAP:"):
        return answer
    for wanted in ("Skip", "Not sure"):
        if wanted in titles:
            return f"TAP: {wanted}"
    return "skip"


def _level_ok(level: str | None, codes: list[str]) -> bool:
    if not codes:
        return not policy.is_urgent(level)
    need = max(TRIAGE_LEVELS.index(RED_FLAG_MIN_LEVEL[c]) for c in codes)  # least to most urgent
    return level in TRIAGE_LEVELS and TRIAGE_LEVELS.index(level) >= need


def play(client: Client, persona: dict) -> Outcome:
    out = Outcome(persona=persona["id"])
    sender = f"sim-{persona['id']}-{uuid.uuid4().hex[:8]}"
    answers: dict[str, str] = persona.get("answers") or {}
    asides = sorted(persona.get("asides") or [], key=lambda a: a.get("after", 0))
    wants = WANTS.get(persona.get("wants") or "nothing", persona.get("wants") or "nothing")
    expect = persona.get("expect") or {}
    queue: list[tuple[str, str]] = [(t, "first") for t in persona.get("first") or []]
    asked_book = script_done = callback_agreed = False
    tries: Counter = Counter()
    last_answer: str | None = None
    last_replies: list[dict] = []
    # Questions a persona has no answer of its own for, answered with the one that fits: "does
    # anything else bring it on?" with what brings it on.
    answers = {**answers, **{q: answers[a] for q, a in SAME_ANSWER.items() if a in answers and q not in answers}}
    for _ in range(MAX_TURNS):
        if not queue:
            asked = out.turns[-1].asked if out.turns else None
            if asked and asked in answers:
                answer = str(answers[asked])
                tries[asked] += 1
                if tries[asked] > GIVE_UP_AFTER:  # as a person would: tap something, or skip
                    answer = _give_up(last_replies, answer)
                text = _tap(last_replies, answer[4:].strip()) if answer.upper().startswith("TAP:") else answer
                queue.append((text, f"answer:{asked}"))
                out.answers += 1
                due = [a for a in asides if a.get("after", 0) <= out.answers and not a.get("_sent")]
                for aside in due:
                    aside["_sent"] = True
                    queue.append((aside["text"], "aside"))
                if persona.get("book_early") and not asked_book and out.answers >= persona.get("book_after", 0):
                    asked_book = True
                    queue.append((ASK_TO_BOOK, "script"))
            elif asked in AGREE_TO and (agree := _agree(last_replies, first=asked in PICK_FIRST)):
                queue.append((agree, "script"))  # the booking's consent, its final check, a free time
            elif asked:
                out.problems.append(f"the bot asked {asked!r}, which the persona has no answer for")
                queue.append(("not sure", f"answer:{asked}"))
            elif (agree := _agree(last_replies)) and asked_book:
                queue.append((agree, "script"))
            elif wants == "callback" and not callback_agreed and (agree := _agree(last_replies)):
                callback_agreed = True  # yes to the call-back the bot offers
                queue.append((agree, "script"))
            elif wants == "book" and not asked_book:
                asked_book = True
                queue.append((ASK_TO_BOOK, "script"))
            elif wants in ("person", "callback") and not script_done:
                script_done = True
                queue.append((ASK_FOR_PERSON, "script"))
            elif wants == "information" and not script_done:
                script_done = True
                queue.append((ASK_FOR_INFORMATION, "script"))
            else:
                break
        text, kind = queue.pop(0)
        last_replies = client.send(text, sender)
        tracker = client.tracker(sender)
        events = _last_turn_events(tracker)
        responses = [(e.get("metadata") or {}).get("utter_action") or "" for e in events if e.get("event") == "bot"]
        form = (tracker.get("active_loop") or {}).get("name")
        asked = question_key(tracker["slots"].get("requested_slot"), form) if form else None
        turn = Turn(
            text=text,
            kind=kind,
            replies=[r.get("text", "") for r in last_replies if r.get("text")],
            responses=responses,
            asked=asked,
        )
        out.turns.append(turn)
        if not last_replies:
            out.problems.append(f"no reply to {kind} {text!r}")
        if kind.startswith("answer:"):
            key = kind.split(":", 1)[1]
            if asked == key and last_answer != key:
                out.asked_again += 1
                out.problems.append(f"asked again after answering {key}: {text!r}")
            last_answer = key
        else:
            last_answer = None
        if NEVER_SILENT in responses:  # the safety net's apology: the turn itself failed
            out.problems.append(f"only the apology for {kind} {text!r}")
        if kind in ("aside", "answer:" + str(asked)) and FALLBACKS & set(responses):
            out.problems.append(f"fallback to {kind} {text!r}")
    else:
        out.problems.append(f"still going after {MAX_TURNS} turns")
    slots = client.tracker(sender)["slots"]
    out.slots = {
        k: slots.get(k)
        for k in (
            "red_flags",
            "triage_level",
            "pain_location",
            "onset",
            "duration_weeks",
            "pain_triggers",
            "booking_status",
        )
    }
    _check(out, slots, expect, wants)
    return out


def _check(out: Outcome, slots: dict, expect: dict, wants: str) -> None:
    codes = list(expect.get("red_flags") or [])
    raised = set(slots.get("red_flags") or [])
    if missed := sorted(set(codes) - raised):
        out.problems.append(f"red flags missed: {missed}")
    if extra := sorted(raised - set(codes)):
        out.problems.append(f"red flags raised without cause: {extra}")
    if not _level_ok(slots.get("triage_level"), codes):
        out.problems.append(f"level {slots.get('triage_level')} for expected flags {codes}")
    emergency = any(RED_FLAG_MIN_LEVEL[c] in ("emergency_ambulance", "emergency") for c in codes)
    if not codes:  # a red flag rightly ends the interview (and the booking) with the escalation
        for key in ("pain_location", "onset"):
            if expect.get(key) is not None:
                out.record[key] = slots.get(key) == expect[key]
        if expect.get("duration_weeks") is not None:
            low, high = expect["duration_weeks"]
            value = slots.get("duration_weeks")
            out.record["duration_weeks"] = value is not None and low <= float(value) <= high
        if expect.get("pain_triggers"):
            out.record["pain_triggers"] = set(expect["pain_triggers"]) <= set(slots.get("pain_triggers") or [])
        for key, right in out.record.items():
            if not right:
                out.problems.append(f"record {key}: {slots.get(key)!r}, expected {expect.get(key)!r}")
    booked = (slots.get("booking_status") or "") in BOOKED
    if emergency and booked:
        out.problems.append("a booking was taken after an emergency escalation")
    elif wants == "book" and not codes and not booked:
        out.problems.append(f"wanted a booking; booking_status {slots.get('booking_status')!r}")


def summarise(outcomes: list[Outcome]) -> dict:
    record = Counter()
    right = Counter()
    for o in outcomes:
        for key, ok in o.record.items():
            record[key] += 1
            right[key] += bool(ok)
    turns = sum(len(o.turns) for o in outcomes)
    return {
        "conversations": len(outcomes),
        "met_every_expectation": sum(o.passed for o in outcomes),
        # the same without the triggers column: the criteria name the record's location,
        # onset and duration, and personas often expect an activity they never told the bot
        "met_every_expectation_but_triggers": sum(
            all(p.startswith("record pain_triggers") for p in o.problems) for o in outcomes
        ),
        "patient_turns": turns,
        "asked_again": sum(o.asked_again for o in outcomes),
        "silent_turns": sum(1 for o in outcomes for t in o.turns if not t.replies),
        "record_right": {k: f"{right[k]}/{record[k]}" for k in sorted(record)},
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("personas", nargs="+", type=Path)
    parser.add_argument("--url", help="a running bot's Rasa server (default: start one)")
    parser.add_argument("--token", help="its HTTP API token (default: var/rasa-api-token)")
    parser.add_argument("--model", type=Path, help="a trained model (default: train if needed, as ./dev run)")
    parser.add_argument("--show", action="store_true", help="print every conversation")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    args = parser.parse_args(argv)
    personas = [p for path in args.personas for p in yaml.safe_load(path.read_text())]

    def run(client: Client) -> list[Outcome]:
        outcomes = []
        for persona in personas:
            try:
                outcomes.append(play(client, persona))
            except (OSError, ValueError) as error:  # the bot did not answer over HTTP: a failure too
                outcomes.append(Outcome(persona=persona["id"], problems=[f"HTTP failure: {error!r}"]))
        return outcomes

    if args.url:
        import dev

        outcomes = run(Client(args.url.rstrip("/"), args.token or dev.api_token()))
    else:
        from stack import running_stack

        with tempfile.TemporaryDirectory() as folder, running_stack(Path(folder), args.model) as stack:
            outcomes = run(Client(stack.rasa_url, stack.token))
    for o in outcomes:
        status = "ok  " if o.passed else "FAIL"
        print(f"{status} {o.persona}: {len(o.turns)} turns" + "".join(f"\n       - {p}" for p in o.problems))
        if args.show or not o.passed:
            for t in o.turns:
                print(f"       > [{t.kind}] {t.text}")
                for reply in t.replies:
                    print(f"         < {reply[:160]}")
    summary = summarise(outcomes)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "summary": summary,
                    "outcomes": [
                        {
                            "persona": o.persona,
                            "problems": o.problems,
                            "slots": o.slots,
                            "turns": [t.__dict__ for t in o.turns],
                        }
                        for o in outcomes
                    ],
                },
                indent=2,
            )
        )
    return 0 if summary["met_every_expectation"] == summary["conversations"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
