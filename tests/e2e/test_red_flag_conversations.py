"""Red flags across a whole conversation, with the running bot (trained model with both nets,
action server over HTTP, SQLite tracker store): signs joined across messages, whose symptom it
is, the emergency questions first, a conversation that stays escalated, and long messages."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from bot.triage import EMERGENCY_QUESTIONS, SCREENING_QUESTIONS
from channels.settings import MAX_MESSAGE_CHARS

pytestmark = pytest.mark.e2e


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def new_id() -> str:
    return "test-" + uuid.uuid4().hex[:12]


def no_booking_or_exercise(replies: list[dict]) -> bool:
    payloads = [b.get("payload") for r in replies for b in r.get("buttons") or []]
    text = texts(replies).lower()
    return "/book_appointment" not in payloads and "exercise" not in text and "book" not in text


def test_a_hot_knee_now_and_a_fever_later_is_an_infection(bot):
    sender = new_id()
    bot.send("my knee feels hot to touch and it hurts on stairs", sender)
    assert not bot.slots(sender)["red_flags"]
    bot.send("no", sender)
    replies = bot.send("oh and I've had a fever and the shivers since last night", sender)
    assert "infection" in texts(replies) and "emergency department" in texts(replies)
    slots = bot.slots(sender)
    assert "infection" in slots["red_flags"] and slots["triage_level"] == "emergency"
    assert {"hot", "fever"} <= set(slots["red_flag_signs"])


def test_an_injury_earlier_and_cannot_stand_later_is_a_fracture_check(bot):
    sender = new_id()
    bot.send("I came off my bike yesterday and landed on my knee", sender)
    replies = bot.send("now I can't even stand up on that leg", sender)
    assert "emergency department" in texts(replies)
    assert "fracture_or_dislocation" in bot.slots(sender)["red_flags"]


def test_after_an_injury_weight_bearing_is_asked_before_where_it_hurts(bot):
    sender = new_id()
    replies = bot.send("I twisted my knee at netball on Saturday and it hurts", sender)
    asked = texts(replies)
    # a doubt from one net, or the injury itself: the weight-bearing question comes early
    for _ in range(len(EMERGENCY_QUESTIONS) + 1):
        if "four steps" in asked:
            break
        asked = texts(bot.send("no", sender))
    assert "four steps" in asked
    replies = bot.send("yes, I can't put any weight on it", sender)
    assert "emergency department" in texts(replies)
    assert "fracture_or_dislocation" in bot.slots(sender)["red_flags"]


def test_an_animals_hot_swollen_knee_raises_nothing(bot):
    sender = new_id()
    replies = bot.send("my dog's knee is hot and swollen, what should I do?", sender)
    assert "emergency department" not in texts(replies)
    slots = bot.slots(sender)
    assert not slots["red_flags"] and slots["triage_level"] is None


def test_a_cold_discoloured_foot_at_the_end_of_a_long_message_is_an_emergency(bot):
    sender = new_id()
    story = ("I'm a runner, about 40 km a week, training for the Melbourne marathon, and my right knee "
             "has been aching around the kneecap on the long runs and on the stairs at work. ") * 12
    replies = bot.send(story + "Since last night my toes on that side have gone cold and a bit purple.", sender)
    assert "000" in texts(replies) and "emergency department" in texts(replies)
    slots = bot.slots(sender)
    assert "neurovascular" in slots["red_flags"]
    assert slots["triage_level"] in ("emergency", "emergency_ambulance")
    # and nothing after it offers advice or booking
    replies = bot.send("what exercises can I do for the knee in the meantime?", sender)
    assert "emergency department" in texts(replies) and no_booking_or_exercise(replies)


def test_after_an_escalation_the_conversation_stays_escalated(bot):
    sender = new_id()
    bot.send("my calf is really swollen and sore since my long flight", sender)
    for message, expected in [
        ("should I use a foam roller on it?", "emergency department now"),
        ("do I really have to go? I feel fine", "serious"),  # the why
        ("/book_appointment", "emergency department now"),
        ("my knee also hurts on stairs", "emergency department now"),  # the questions do not restart
        ("thanks", "emergency department now"),
    ]:
        replies = bot.send(message, sender)
        assert expected in texts(replies), message
        assert no_booking_or_exercise(replies), message
        assert not bot.tracker(sender)["active_loop"].get("name"), message
    assert bot.slots(sender)["triage_level"] == "emergency"


def test_after_a_self_harm_reply_every_unplaced_message_gets_a_crisis_aware_answer(bot):
    sender = new_id()
    replies = bot.send("i've been saving my sleeping pills, i don't think i can keep doing this", sender)
    assert "13 11 14" in texts(replies)
    for message in ("idk", "whatever", "asdf", "my knee still hurts"):
        replies = bot.send(message, sender)
        text = texts(replies)
        assert "13 11 14" in text and "000" in text, message
        assert "didn't quite get that" not in text, message
        assert no_booking_or_exercise(replies), message


@pytest.mark.parametrize("question", list(EMERGENCY_QUESTIONS))
def test_every_emergency_question_answered_yes_escalates_before_the_routine_questions(bot, question):
    """Whatever the first message said, a red flag is caught by the end of the emergency questions."""
    sender = new_id()
    bot.send("my knee aches a bit after parkrun", sender)
    for asked in EMERGENCY_QUESTIONS:
        if asked == question:
            replies = bot.send("yes", sender)
            break
        bot.send("no", sender)
    slots = bot.slots(sender)
    assert SCREENING_QUESTIONS[question] in slots["red_flags"]
    assert "000" in texts(replies) or "1800 022 222" in texts(replies)
    assert "Where on the knee" not in texts(replies)


def test_a_low_mood_answer_leads_to_a_kind_direct_question_and_yes_gets_lifeline(bot):
    sender = new_id()
    bot.send("my knee hurts going down stairs", sender)
    bot.answer_up_to_the_safety_questions(sender)  # the reply asks about locking
    bot.send("no", sender)
    replies = bot.send("no", sender)  # night pain
    assert "felt down or hopeless" in texts(replies)
    replies = bot.send("yeah, pretty flat since I stopped running", sender)
    assert "thoughts of hurting themselves or ending their life" in texts(replies)
    replies = bot.send("sometimes", sender)
    assert "13 11 14" in texts(replies)
    assert "self_harm" in bot.slots(sender)["red_flags"]


def _post(bot, payload: bytes, content_type: str = "application/json"):
    request = urllib.request.Request(f"{bot.rasa_url}/webhooks/rest/webhook", data=payload, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_long_message_reaches_the_detector_whole_and_a_too_long_one_is_refused_plainly(bot):
    sender = new_id()
    filler = "My knee has been sore around the kneecap after runs and on the stairs for a few weeks. " * 30
    assert len(filler) > 2400
    status, replies = _post(bot, json.dumps({"sender": sender, "message": filler +
                                             "Also my calf has been swollen and hot since my flight home."}).encode())
    assert status == 200 and "blood clot" in texts(replies)
    assert "dvt" in bot.slots(sender)["red_flags"]
    stored = bot.tracker(sender)["latest_message"]["text"]
    assert stored.endswith("since my flight home.")  # staff see what was sent, whole

    status, body = _post(bot, json.dumps({"sender": new_id(), "message": "a" * (MAX_MESSAGE_CHARS + 1)}).encode())
    assert status == 413 and "split it" in body["error"]
