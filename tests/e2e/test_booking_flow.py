"""Booking and hand-off end to end over the REST channel of the running bot (real Rasa server,
real action server over HTTP, the booking store in the stack's own SQLite file): from "I'd like
to book" to a confirmed request in the store. Buttons are sent as their payloads, as the web
chat sends them; names, numbers and times are typed."""
from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import dev  # noqa: E402
from bot.settings import load_settings  # noqa: E402

pytestmark = pytest.mark.e2e

SCREENS = 3  # locking, night pain, mood: what follows "under 16?" (the emergency questions came first)
NAME, MOBILE, MOBILE_E164 = "Jordan Smith", "0491 570 156", "+61491570156"  # ACMA's number for fiction


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def payloads(replies: list[dict]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def new_id() -> str:
    return "test-booking-" + uuid.uuid4().hex[:12]


def clinic_settings(bot):
    return load_settings(dev.env(**bot.env))


def stored(bot, sender: str) -> list[dict]:
    """The booking_requests rows of one conversation, read straight from the stack's store."""
    with sqlite3.connect(bot.booking_db) as db:
        db.row_factory = sqlite3.Row
        try:
            rows = db.execute("select * from booking_requests where conversation_id = ?", (sender,)).fetchall()
        except sqlite3.OperationalError:  # no request stored by anyone yet
            return []
    return [dict(row) for row in rows]


def active_loop(bot, sender: str):
    return bot.tracker(sender)["active_loop"].get("name")


def start_booking(bot, sender: str, first_message: str = "I'd like to book an appointment") -> None:
    replies = bot.send(first_message, sender)
    if "quick safety checks" in texts(replies):  # nobody is booked in before the emergency questions
        assert "chest pain" in texts(replies)
        replies = bot.answer_the_emergency_questions(sender)
    assert "privacy policy" in texts(replies) and payloads(replies)[-2:] == ["/affirm", "/deny"]
    replies = bot.send("/affirm", sender)
    assert "What name should the clinic use?" in texts(replies)


def test_from_i_would_like_to_book_to_a_confirmed_request_in_the_store(bot):
    sender = new_id()
    replies = bot.send("I'd like to book an appointment", sender)
    assert "quick safety checks" in texts(replies) and "chest pain" in texts(replies)  # the emergency questions first
    assert active_loop(bot, sender) == "triage_form"
    replies = bot.answer_the_emergency_questions(sender)  # then straight to the booking: no routine questions
    text = texts(replies)
    settings = clinic_settings(bot)
    assert "your name, your phone number or email" in text and settings.clinic_privacy_url in text
    assert not active_loop(bot, sender)  # nothing is asked before consent
    replies = bot.send("/affirm", sender)
    assert "What name should the clinic use?" in texts(replies)
    assert active_loop(bot, sender) == "booking_form" and bot.slots(sender)["booking_consent"] is True
    replies = bot.send(NAME, sender)
    assert "How can the clinic reach you?" in texts(replies)
    replies = bot.send(MOBILE, sender)
    assert "When suits you best" in texts(replies)
    replies = bot.send("Weekday mornings", sender)  # a time button sends its words
    text = texts(replies)
    assert "Please check your details" in text and NAME in text and MOBILE in text
    assert "Weekday mornings" in text
    assert stored(bot, sender) == []  # nothing is kept before the person confirms

    replies = bot.send("/affirm", sender)
    assert "Your request is with the clinic" in texts(replies)
    [request] = stored(bot, sender)
    assert (request["kind"], request["name"], request["phone"], request["preferred_times"], request["status"]) == (
        "booking", NAME, MOBILE_E164, "Weekday mornings", "delivered")
    slots = bot.slots(sender)
    assert (slots["booking_status"], slots["booking_request_id"]) == ("delivered", request["id"])
    assert slots["patient_name"] is None and slots["contact_phone"] is None
    assert not active_loop(bot, sender)


def test_the_knee_check_travels_with_the_booking_without_asking_again(bot):
    sender = new_id()
    bot.send("my knee hurts going down stairs", sender)
    bot.answer_up_to_the_safety_questions(sender)
    for _ in range(SCREENS - 1):
        bot.send("/deny", sender)
    replies = bot.send("/deny", sender)
    assert "/book_appointment" in payloads(replies)

    start_booking(bot, sender, "/book_appointment")
    bot.send(NAME, sender)
    bot.send(MOBILE, sender)
    replies = bot.send("Tuesday after 4 pm", sender)
    assert "pain around the kneecap on stairs, for about 6 weeks" in texts(replies)
    bot.send("/affirm", sender)
    [request] = stored(bot, sender)
    assert request["triage_level"] == "consultation" and request["preferred_times"] == "Tuesday after 4 pm"
    summary = json.loads(request["triage_summary"])
    assert summary["pain_location"] == "around_kneecap" and summary["pain_triggers"] == ["stairs"]
    assert summary["description"].startswith("pain around the kneecap on stairs")


def test_bad_answers_are_asked_again_and_an_answer_can_be_changed_before_confirming(bot):
    sender = new_id()
    start_booking(bot, sender)
    bot.send(NAME, sender)
    replies = bot.send("0491 570", sender)
    assert "That number looks short" in texts(replies)
    replies = bot.send("jordan@example", sender)
    assert "full ending, like .com" in texts(replies)
    bot.send(MOBILE, sender)
    replies = bot.send("Weekends", sender)
    assert '/inform{"booking_field":"contact"}' in payloads(replies)

    replies = bot.send('/inform{"booking_field":"contact"}', sender)  # "Change phone or email"
    assert "How can the clinic reach you?" in texts(replies)
    replies = bot.send("jordan.smith@example.com.au", sender)
    text = texts(replies)
    assert "Please check your details" in text and "jordan.smith@example.com.au" in text and MOBILE not in text
    bot.send("/affirm", sender)
    [request] = stored(bot, sender)
    assert (request["email"], request["phone"], request["name"]) == ("jordan.smith@example.com.au", None, NAME)


def test_no_consent_keeps_nothing_and_gives_the_clinic_phone(bot):
    sender = new_id()
    bot.send("I'd like to book an appointment", sender)
    replies = bot.answer_the_emergency_questions(sender)  # they come first, then the consent question
    assert "privacy policy" in texts(replies)
    replies = bot.send("/deny", sender)
    text = texts(replies)
    assert "haven't kept any of your details" in text and clinic_settings(bot).clinic_phone in text
    assert stored(bot, sender) == [] and not active_loop(bot, sender)


def test_stop_in_the_middle_ends_kindly_and_stores_nothing(bot):
    sender = new_id()
    start_booking(bot, sender)
    bot.send(NAME, sender)
    replies = bot.send("stop", sender)
    assert "I've stopped" in texts(replies) and "haven't sent your details" in texts(replies)
    assert stored(bot, sender) == [] and not active_loop(bot, sender)
    assert bot.slots(sender)["patient_name"] is None


def test_a_question_in_the_middle_is_answered_then_the_same_question_is_asked_again(bot):
    sender = new_id()
    start_booking(bot, sender)
    replies = bot.send("why does the hip matter for knee pain?", sender)
    text = texts(replies)
    assert "thigh bone" in text and "What name should the clinic use?" in text
    assert active_loop(bot, sender) == "booking_form"
    assert bot.slots(sender)["patient_name"] is None


def test_a_red_flag_in_the_middle_escalates_and_no_request_is_stored(bot):
    sender = new_id()
    start_booking(bot, sender)
    bot.send(NAME, sender)
    replies = bot.send("I have crushing chest pain and can't breathe", sender)
    text = texts(replies)
    assert "call 000" in text.lower() and "How can the clinic reach you?" not in text
    assert not active_loop(bot, sender)
    assert bot.slots(sender)["triage_level"] == "emergency_ambulance"
    # and booking is never offered again in this conversation
    replies = bot.send("/book_appointment", sender)
    assert "call 000 now" in texts(replies).lower() and "privacy policy" not in texts(replies)
    assert not active_loop(bot, sender)
    assert stored(bot, sender) == []


def test_a_person_the_clinic_hours_and_a_call_back_through_the_same_store(bot):
    sender = new_id()
    settings = clinic_settings(bot)
    replies = bot.send("can I talk to a real person", sender)
    text = texts(replies)
    assert settings.clinic_phone in text and "We are open Monday to Friday" in text
    assert "We're open now" in text or "We're closed right now" in text
    assert "Would you like a call-back?" in text and payloads(replies) == ["/affirm", "/deny"]

    replies = bot.send("/affirm", sender)  # "Yes, call me back": the offer said what we keep
    assert "What name should the clinic use?" in texts(replies)
    bot.send(NAME, sender)
    replies = bot.send("my number is " + MOBILE, sender)
    assert "good time to call" in texts(replies)
    replies = bot.send("Any time", sender)
    assert "Shall I ask our team to call you?" in texts(replies)
    replies = bot.send("/affirm", sender)
    assert f"Our team will call you on {MOBILE}" in texts(replies)
    [request] = stored(bot, sender)
    assert (request["kind"], request["phone"], request["preferred_times"]) == ("callback", MOBILE_E164, "Any time")
    assert bot.slots(sender)["booking_kind"] == "callback"


def test_a_plain_name_the_classifier_reads_as_no_is_kept_and_skip_says_how_to_leave(bot):
    # "Noah Kelly" was read as "no" and refused for ever (blind persona set 7)
    sender = new_id()
    start_booking(bot, sender)
    replies = bot.send("skip", sender)
    assert "first name is fine" in texts(replies) and "type stop" in texts(replies)
    replies = bot.send("Noah Kelly", sender)
    assert "How can the clinic reach you?" in texts(replies)
    assert bot.slots(sender)["patient_name"] == "Noah Kelly"


def test_an_early_booker_is_offered_the_rest_of_the_questions_and_yes_asks_them(bot):
    # only the emergency questions come before booking; after it, the rest are offered
    sender = new_id()
    start_booking(bot, sender)
    bot.send(NAME, sender)
    bot.send(MOBILE, sender)
    bot.send("Weekday mornings", sender)
    replies = bot.send("/affirm", sender)
    assert "Your request is with the clinic" in texts(replies) and "a few more short questions" in texts(replies)
    replies = bot.send("Yes, go on", sender)  # the button's title, typed
    assert active_loop(bot, sender) == "triage_form"
    assert bot.tracker(sender)["slots"]["requested_slot"] == "pain_location"
    assert "Where on the knee" in texts(replies)
