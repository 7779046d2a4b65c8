"""The REST channel's conversation ids: only ids the tracker store can keep are taken.

Rasa's SQL tracker store keeps a conversation id of up to 255 characters (PostgreSQL refuses a
longer one, and the message would be lost where staff never see it), so a longer or unprintable
`sender` is refused with 400 and a plain error the client can act on.
"""
from __future__ import annotations

import aiohttp
import pytest

from channels.senders import MAX_SENDER_CHARS
from fakes.channels import clinic_script, serve_bot


async def post(base_url: str, sender) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base_url}/webhooks/rest/webhook",
                                json={"sender": sender, "message": "hello"}) as reply:
            return reply.status, await reply.json()


async def test_an_id_of_up_to_255_printable_characters_is_taken_whole():
    async with serve_bot(clinic_script) as bot:
        status, replies = await post(bot.url, "s" * MAX_SENDER_CHARS)
        assert (status, replies[0]["text"]) == (200, "You said hello")
        assert (await post(bot.url, 12345))[0] == 200  # a number is an id too
    assert [m.sender_id for m in bot.agent.received] == ["s" * MAX_SENDER_CHARS, "12345"]


@pytest.mark.parametrize("sender", ["s" * (MAX_SENDER_CHARS + 1), "tab\there", "  ", ""],
                         ids=["256-characters", "unprintable", "blank", "empty"])
async def test_an_id_the_store_cannot_keep_is_refused_with_a_plain_400(sender):
    async with serve_bot(clinic_script) as bot:
        status, body = await post(bot.url, sender)
    assert status == 400 and body["code"] == "invalid_sender" and body["error"].startswith('"sender" must')
    assert bot.agent.received == []
