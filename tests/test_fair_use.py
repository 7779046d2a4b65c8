"""Fair use (channels/fair_use.py) through the REST channel, over real HTTP: rate limits per
conversation and per address, the cap on a conversation's length, red flags always through, and
a flood that costs other patients nothing. The web chat and the messaging platforms have theirs
in tests/test_channels_*.py.

The app is built the way `rasa run` builds it (credentials.yml) around a scripted agent with a
real tracker store. Each simulated patient has an address of its own (`X-Forwarded-For`, which
the server trusts with SANIC_PROXIES_COUNT=1, as behind one proxy).
"""
from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from rasa.core.tracker_store import InMemoryTrackerStore

from bot.readability import is_readable
from bot.settings import load_settings
from channels.settings import CONVERSATION_FULL, RATE_LIMITED, FairUseSettings
from fakes.channels import CHEST_PAIN_ALERT, clinic_script, serve_bot

PATIENT = "10.0.0.2"
ALERT_FIRST_LINE = CHEST_PAIN_ALERT["text"].split("\n\n")[0]  # the REST channel sends paragraphs apart
DOMAIN = Path(__file__).resolve().parents[1] / "domain.yml"


@pytest.fixture
def limits_env(monkeypatch):
    """Small limits, and loopback limited like any address (it is exempt by default)."""
    monkeypatch.setenv("FAIR_USE_TRUSTED_ADDRESSES", "none")
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "3/minute")
    monkeypatch.setenv("FAIR_USE_ADDRESS_LIMIT", "5/minute")
    monkeypatch.setenv("SANIC_PROXIES_COUNT", "1")


async def send(base_url: str, sender: str, text: str, address: str = PATIENT) -> tuple[int, object, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                                headers={"X-Forwarded-For": address}) as reply:
            return reply.status, await reply.json(), dict(reply.headers)


async def test_past_the_conversation_limit_the_answer_is_429_a_kind_sentence_and_when_to_retry(limits_env):
    async with serve_bot(clinic_script) as bot:
        for n in range(3):
            assert (await send(bot.url, "anna", f"hello {n}"))[0] == 200
        status, body, headers = await send(bot.url, "anna", "hello again")

    assert status == 429
    assert body == {"error": RATE_LIMITED, "code": "rate_limited"}
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert [m.text for m in bot.agent.received] == ["hello 0", "hello 1", "hello 2"]


async def test_a_red_flag_message_past_the_limit_still_reaches_the_bot(limits_env):
    async with serve_bot(clinic_script) as bot:
        for n in range(3):
            await send(bot.url, "ben", f"hello {n}")
        assert (await send(bot.url, "ben", "what now"))[0] == 429
        status, replies, _ = await send(bot.url, "ben", "I have crushing chest pain")
        # "no" to nothing in particular is refused; a negated red flag is still read by the bot
        assert (await send(bot.url, "ben", "ok"))[0] == 429
        assert (await send(bot.url, "ben", "no chest pain though, just the knee"))[0] == 200

    assert status == 200 and replies[0]["text"] == ALERT_FIRST_LINE
    assert bot.agent.received[3].text == "I have crushing chest pain"


async def test_a_yes_to_a_safety_question_past_the_limit_still_reaches_the_bot(limits_env):
    # "yes" alone is no red flag; after "Any chest pain?" it is one (bot.safety reads it so).
    async with serve_bot(clinic_script) as bot:
        store = bot.agent.tracker_store = InMemoryTrackerStore(Domain.load(DOMAIN))
        tracker = await store.get_or_create_tracker("cara")
        tracker.update(SlotSet("requested_slot", "screen_chest"))
        tracker.update(BotUttered("Any chest pain or trouble breathing?"))
        await store.save(tracker)
        for n in range(3):
            await send(bot.url, "cara", f"hmm {n}")
        refused_no = (await send(bot.url, "cara", "no"))[0]
        typed_yes = (await send(bot.url, "cara", "yes"))[0]
        tapped_yes = (await send(bot.url, "cara", "/affirm"))[0]

    assert (refused_no, typed_yes, tapped_yes) == (429, 200, 200)
    assert [m.text for m in bot.agent.received][-2:] == ["yes", "/affirm"]


async def test_one_flooding_address_does_not_hold_up_other_patients(limits_env):
    async with serve_bot(clinic_script) as bot:
        # New conversation ids from one address: the address limit (5 a minute) catches them.
        statuses = [(await send(bot.url, f"spam-{n}", "hi", address="10.0.0.66"))[0] for n in range(7)]
        patient = await send(bot.url, "dana", "my knee hurts", address=PATIENT)

    assert statuses == [200] * 5 + [429] * 2
    assert patient[0] == 200 and patient[1][0]["text"] == "Does it hurt more going down stairs?"


async def test_the_bots_own_machine_is_not_rate_limited_unless_told(monkeypatch):
    # The clinic's own tools, tests and a local proxy that passes no address on come from here.
    monkeypatch.delenv("FAIR_USE_TRUSTED_ADDRESSES", raising=False)
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "2/minute")
    async with serve_bot(clinic_script) as bot:
        statuses = [(await send(bot.url, "eve", f"hi {n}", address="127.0.0.1"))[0] for n in range(4)]
    assert statuses == [200] * 4


async def test_past_the_cap_the_patient_is_asked_to_call_the_clinic_and_red_flags_still_go_through(
        limits_env, monkeypatch):
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "off")
    monkeypatch.setenv("FAIR_USE_MAX_CONVERSATION_MESSAGES", "3")
    async with serve_bot(clinic_script) as bot:
        statuses = [(await send(bot.url, "finn", f"question {n}"))[0] for n in range(3)]
        status, body, headers = await send(bot.url, "finn", "one more question")
        red_flag = await send(bot.url, "finn", "I have crushing chest pain")

    assert statuses == [200] * 3
    assert status == 403 and "Retry-After" not in headers
    assert body == {"error": CONVERSATION_FULL.format(phone=load_settings().clinic_phone),
                    "code": "conversation_limit"}
    assert load_settings().clinic_phone in body["error"]
    assert red_flag[0] == 200 and red_flag[1][0]["text"] == ALERT_FIRST_LINE


async def test_the_cap_counts_messages_stored_before_this_server_started(limits_env, monkeypatch):
    monkeypatch.setenv("FAIR_USE_MAX_CONVERSATION_MESSAGES", "3")
    async with serve_bot(clinic_script) as bot:
        tracker = await bot.agent.tracker_store.get_or_create_tracker("gus")
        for n in range(3):
            tracker.update(UserUttered(f"earlier {n}"))
        await bot.agent.tracker_store.save(tracker)
        status, body, _ = await send(bot.url, "gus", "hello")
    assert (status, body["code"]) == (403, "conversation_limit")
    assert bot.agent.received == []


async def test_a_session_that_has_ended_starts_the_count_again(limits_env, monkeypatch):
    monkeypatch.setenv("FAIR_USE_MAX_CONVERSATION_MESSAGES", "3")
    async with serve_bot(clinic_script) as bot:
        bot.agent.domain = Domain.load(DOMAIN)  # sessions end after 120 minutes
        tracker = await bot.agent.tracker_store.get_or_create_tracker("hana")
        three_hours_ago = time.time() - 3 * 3600
        for n in range(3):
            tracker.update(UserUttered(f"last spring {n}", timestamp=three_hours_ago))
        await bot.agent.tracker_store.save(tracker)
        status, _, _ = await send(bot.url, "hana", "my knee is sore again")
    assert status == 200


async def test_past_the_red_flag_reading_budget_refused_messages_are_not_read(limits_env, monkeypatch):
    # A sender pasting long text in a loop cannot buy the server's time: past the budget
    # (characters a minute, FAIR_USE_RED_FLAG_READING_LIMIT) its refused messages are not read.
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "1/minute")
    monkeypatch.setenv("FAIR_USE_RED_FLAG_READING_LIMIT", "40/minute")
    async with serve_bot(clinic_script) as bot:
        await send(bot.url, "ivan", "hi")
        within = (await send(bot.url, "ivan", "I have crushing chest pain"))[0]  # 26 characters read
        past = (await send(bot.url, "ivan", "I have crushing chest pain"))[0]  # 52 > 40: not read
    assert (within, past) == (200, 429)


async def test_a_flooding_sender_costs_other_patients_no_message_and_no_reply(limits_env, monkeypatch):
    """The fairness load script, small: patients answered in full while one sender floods."""
    import fairness_load

    monkeypatch.setenv("FAIR_USE_ADDRESS_LIMIT", "60/minute")
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "20/minute")
    async with serve_bot(clinic_script) as bot:
        # past the conversation limit (20) however fast the patients are answered: on a quick run
        # the flood had ended after 18 messages, none of them refused
        result = await fairness_load.run(
            bot.url, "flooded", patients=12, turns=6, flood_rate=200, flood_at_least=40
        )

    assert result.messages == 72 and result.lost == 0 and result.no_reply == 0, result.summary()
    assert result.flood["refused"] > 0 and result.flood["other"] == 0, result.summary()
    flood_handled = [m for m in bot.agent.received if m.sender_id.endswith("-flood")]
    assert len(flood_handled) == result.flood["handled"] <= 20  # the conversation limit, nothing more
    assert sum(1 for m in bot.agent.received if "-p" in m.sender_id) == 72


def test_every_channel_sentence_reads_at_grade_8_or_below():
    import channels.settings as home

    sentences = {name: value.format(phone=load_settings().clinic_phone) for name, value in vars(home).items()
                 if name.isupper() and isinstance(value, str) and value.endswith(".") and " " in value}
    assert {"RATE_LIMITED", "CONVERSATION_FULL", "TOO_LONG", "NO_REPLY"} <= set(sentences)
    assert [name for name, text in sentences.items() if not is_readable(text)] == []
    assert "000" in RATE_LIMITED and "000" in CONVERSATION_FULL  # red flags still go through


def test_the_limits_come_from_the_environment_and_a_bad_one_is_named():
    assert FairUseSettings.from_env({}) == FairUseSettings(
        conversation_limit="20/minute", address_limit="60/minute", max_conversation_messages=500,
        red_flag_reading_limit="100000/minute", trusted_addresses=("127.0.0.1", "::1"))
    chosen = FairUseSettings.from_env({
        "FAIR_USE_CONVERSATION_LIMIT": "10/minute", "FAIR_USE_ADDRESS_LIMIT": "off",
        "FAIR_USE_MAX_CONVERSATION_MESSAGES": "off", "FAIR_USE_TRUSTED_ADDRESSES": "10.0.0.0/8, ::1"})
    assert (chosen.conversation_limit, chosen.address_limit, chosen.max_conversation_messages,
            chosen.trusted_addresses) == ("10/minute", None, None, ("10.0.0.0/8", "::1"))
    for name, value in (("FAIR_USE_CONVERSATION_LIMIT", "lots"), ("FAIR_USE_ADDRESS_LIMIT", "0/minute"),
                        ("FAIR_USE_MAX_CONVERSATION_MESSAGES", "-1"), ("FAIR_USE_TRUSTED_ADDRESSES", "proxy")):
        with pytest.raises(ValueError, match=name):
            FairUseSettings.from_env({name: value})


async def test_a_bad_limit_stops_the_server_at_start(monkeypatch):
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "lots")
    with pytest.raises(ValueError, match="FAIR_USE_CONVERSATION_LIMIT"):
        async with serve_bot(clinic_script):
            pass
