"""SMS and WhatsApp through Twilio: signed webhooks in, Messages API calls out.

The app is built the way `rasa run` builds it (credentials.yml, `configure_app`); the bot is a
scripted agent with a real tracker store; Twilio's Messages API is faked at the HTTP transport.
"""

from __future__ import annotations

import aiohttp
import pytest
import pytest_asyncio
from twilio.request_validator import RequestValidator

from fakes.channels import CHEST_PAIN_ALERT, RecordingHTTPAdapter, clinic_script, serve_bot
from channels.twilio import conversation_id_for

AUTH_TOKEN = "twilio-test-auth-token"
PUBLIC_URL = "https://bot.clinic.example/webhooks/twilio/webhook"
PATIENT = "+61412345678"


@pytest.fixture
def twilio_env(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_SMS_NUMBER", "+61480000000")
    monkeypatch.setenv("TWILIO_WHATSAPP_NUMBER", "+14155238886")
    monkeypatch.setenv("TWILIO_WEBHOOK_URL", PUBLIC_URL)


@pytest.fixture
def twilio_api(monkeypatch) -> RecordingHTTPAdapter:
    return RecordingHTTPAdapter(status=201).install(monkeypatch)


@pytest_asyncio.fixture
async def bot(twilio_env, twilio_api):
    async with serve_bot(clinic_script) as running:
        yield running.url, running.agent


def signed(form: dict, token: str = AUTH_TOKEN, url: str = PUBLIC_URL) -> dict:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)}


def sms(body: str, sender: str = PATIENT) -> dict:
    return {
        "MessageSid": "SM" + "1" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+61480000000",
        "Body": body,
        "NumMedia": "0",
    }


async def post(base_url: str, form: dict, headers: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        url = f"{base_url}/webhooks/twilio/webhook"
        async with session.post(url, data=form, headers=headers) as reply:
            return reply.status, await reply.text()


def sent_messages(twilio_api: RecordingHTTPAdapter) -> list[dict[str, str]]:
    return [
        {key: values[0] for key, values in call.form.items()}
        for call in twilio_api.calls
        if call.method == "POST" and call.url.endswith("/Messages.json")
    ]


async def test_sms_reply_goes_out_through_the_messages_api(bot, twilio_api):
    base_url, agent = bot
    form = sms("hello")
    status, body = await post(base_url, form, signed(form))

    assert status == 200
    assert "<Response></Response>" in body  # empty TwiML: the reply goes out by the API
    assert [m.text for m in agent.received] == ["hello"]
    assert agent.received[0].sender_id == conversation_id_for(PATIENT, AUTH_TOKEN)
    assert sent_messages(twilio_api) == [{"To": PATIENT, "From": "+61480000000", "Body": "You said hello"}]
    assert twilio_api.calls[0].host == "api.twilio.com"


async def test_buttons_become_numbered_choices_and_a_number_picks_the_payload(bot, twilio_api):
    base_url, agent = bot
    first = sms("my knee hurts going down stairs")
    await post(base_url, first, signed(first))
    assert sent_messages(twilio_api)[0]["Body"] == (
        "Does it hurt more going down stairs?\n1. Yes\n2. No\n3. Not sure\nReply with a number."
    )

    answer = sms("2")
    await post(base_url, answer, signed(answer))
    assert agent.received[-1].text == "/deny"


async def test_a_number_after_a_message_without_buttons_stays_a_number(bot, twilio_api):
    base_url, agent = bot
    for body in ("hello", "2"):
        form = sms(body)
        await post(base_url, form, signed(form))
    assert agent.received[-1].text == "2"


async def test_whatsapp_is_answered_from_the_whatsapp_sender(bot, twilio_api):
    base_url, agent = bot
    form = sms("hello", sender="whatsapp:+61412345678")
    await post(base_url, form, signed(form))

    assert agent.received[0].sender_id.startswith("whatsapp-")
    assert sent_messages(twilio_api) == [
        {"To": "whatsapp:+61412345678", "From": "whatsapp:+14155238886", "Body": "You said hello"}
    ]


async def test_the_patients_number_is_not_the_conversation_id(bot, twilio_api):
    # The conversation id reaches logs, staff alert e-mails and review links; the number must not.
    base_url, agent = bot
    for sender, body in (
        (PATIENT, "hello"),
        (PATIENT, "again"),
        ("+61498765432", "hi"),
        ("whatsapp:" + PATIENT, "hey"),
    ):
        form = sms(body, sender=sender)
        await post(base_url, form, signed(form))

    ids = [m.sender_id for m in agent.received]
    assert ids[0] == ids[1], "the same number must stay in one conversation"
    assert len({ids[0], ids[2], ids[3]}) == 3, "another number, or WhatsApp, is another conversation"
    assert ids[0].startswith("sms-") and ids[3].startswith("whatsapp-")
    for conversation_id in ids:
        assert not any(digits in conversation_id for digits in ("412345678", "498765432"))
    # Each reply still reaches its own number, from the right sender.
    assert [(m["To"], m["From"]) for m in sent_messages(twilio_api)] == [
        (PATIENT, "+61480000000"),
        (PATIENT, "+61480000000"),
        ("+61498765432", "+61480000000"),
        ("whatsapp:" + PATIENT, "whatsapp:+14155238886"),
    ]
    # The number stays with the message for the staff review tool (the tracker store keeps it).
    assert [m.metadata["twilio_from"] for m in agent.received] == [
        PATIENT,
        PATIENT,
        "+61498765432",
        "whatsapp:" + PATIENT,
    ]


def test_the_conversation_id_depends_on_a_key_the_clinic_holds():
    assert conversation_id_for(PATIENT, "key-one") == conversation_id_for(PATIENT, "key-one")
    assert conversation_id_for(PATIENT, "key-one") != conversation_id_for(PATIENT, "key-two")


async def test_a_set_conversation_key_is_used_instead_of_the_auth_token(monkeypatch, twilio_env, twilio_api):
    monkeypatch.setenv("TWILIO_CONVERSATION_KEY", "clinic-conversation-key")
    async with serve_bot(clinic_script) as running:
        form = sms("hello")
        await post(running.url, form, signed(form))
        assert running.agent.received[0].sender_id == conversation_id_for(PATIENT, "clinic-conversation-key")


async def test_a_message_for_a_conversation_with_no_number_known_is_not_sent(twilio_env, twilio_api):
    # e.g. a server-side trigger for an sms-... conversation: there is no number to send to.
    from channels.settings import TwilioSettings
    from channels.twilio import SignedTwilioInput

    output = SignedTwilioInput(TwilioSettings.from_env()).get_output_channel()
    await output.send_text_message(conversation_id_for(PATIENT, AUTH_TOKEN), "hello")
    await output.send_text_message(PATIENT, "to a number")
    assert [(m["To"], m["Body"]) for m in sent_messages(twilio_api)] == [(PATIENT, "to a number")]


async def test_alert_marker_is_not_sent_as_a_text(bot, twilio_api):
    base_url, _ = bot
    form = sms("crushing chest pain")
    await post(base_url, form, signed(form))
    assert [m["Body"] for m in sent_messages(twilio_api)] == [CHEST_PAIN_ALERT["text"]]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": "not-a-signature"},
        signed(sms("hello"), token="someone-elses-token"),
        signed(sms("hello"), url="https://attacker.example/webhooks/twilio/webhook"),
        signed(sms("a different body")),
    ],
    ids=["missing", "garbage", "wrong-token", "wrong-url", "tampered-body"],
)
async def test_unsigned_or_badly_signed_webhooks_are_refused(bot, twilio_api, headers):
    base_url, agent = bot
    status, _ = await post(base_url, sms("hello"), headers)

    assert status == 403
    assert agent.received == []
    assert twilio_api.calls == []


async def test_signature_is_checked_against_the_served_url_when_no_public_url_is_set(
    twilio_env, twilio_api, monkeypatch
):
    monkeypatch.delenv("TWILIO_WEBHOOK_URL")
    async with serve_bot(clinic_script) as running:
        form = sms("hello")
        url = f"{running.url}/webhooks/twilio/webhook"
        assert (await post(running.url, form, signed(form, url=url)))[0] == 200
        assert (await post(running.url, form, signed(form)))[0] == 403
    assert len(running.agent.received) == 1


async def test_channel_is_off_until_its_variables_are_set(twilio_api, monkeypatch):
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_SMS_NUMBER", "TWILIO_WHATSAPP_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    async with serve_bot(clinic_script) as running:
        form = sms("hello")
        status, _ = await post(running.url, form, signed(form))
    assert status == 503
    assert running.agent.received == []


# --- fair use (channels/fair_use.py) -------------------------------------------------------------


async def test_past_the_limit_the_patient_gets_one_text_saying_why_and_red_flags_still_go_through(
    twilio_env, twilio_api, monkeypatch
):
    from bot.redflags import warm_up
    from channels.settings import RATE_LIMITED

    warm_up()  # as the Rasa server does when the model loads
    monkeypatch.setenv("FAIR_USE_CONVERSATION_LIMIT", "2/minute")
    async with serve_bot(clinic_script) as running:
        statuses = []
        for body in ("hello", "again", "and again", "once more", "crushing chest pain"):
            form = sms(body)
            statuses.append((await post(running.url, form, signed(form)))[0])
        # SMS and WhatsApp from one number are one person: the number's limit is shared.
        form = sms("hi", sender="whatsapp:" + PATIENT)
        statuses.append((await post(running.url, form, signed(form)))[0])

    # 200 with empty TwiML: any other status makes Twilio call the number's fallback URL.
    assert statuses == [200] * 6
    assert [m.text for m in running.agent.received] == ["hello", "again", "crushing chest pain", "hi"]
    assert [m["Body"] for m in sent_messages(twilio_api)] == [
        "You said hello",
        "You said again",
        RATE_LIMITED,
        CHEST_PAIN_ALERT["text"],
        "You said hi",
    ]


async def test_a_flood_from_one_number_does_not_hold_up_another(twilio_env, twilio_api, monkeypatch):
    monkeypatch.setenv("FAIR_USE_ADDRESS_LIMIT", "3/minute")
    async with serve_bot(clinic_script) as running:
        for n in range(5):
            form = sms(f"spam {n}", sender="+61400000001")
            await post(running.url, form, signed(form))
        form = sms("my knee hurts", sender="+61400000002")
        assert (await post(running.url, form, signed(form)))[0] == 200
    assert [m.text for m in running.agent.received] == ["spam 0", "spam 1", "spam 2", "my knee hurts"]


async def test_a_photo_with_no_words_gets_a_reply_saying_the_bot_reads_text_only(bot, twilio_api):
    from xml.etree import ElementTree

    from channels.settings import TEXT_ONLY

    base_url, agent = bot
    form = sms("") | {
        "NumMedia": "1",
        "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",
        "MediaContentType0": "image/jpeg",
    }
    status, body = await post(base_url, form, signed(form))

    assert status == 200
    assert ElementTree.fromstring(body).findtext("Message") == TEXT_ONLY  # Twilio sends it back
    assert agent.received == [] and sent_messages(twilio_api) == []
