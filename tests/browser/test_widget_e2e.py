"""The widget against the real bot: trained model, Rasa server, action server, web page.

Uses the session fixture `bot_stack` (tests/conftest.py). To point it at a stack you already
run (`./dev run`), set WIDGET_E2E_WEB_URL=http://127.0.0.1:8080.
"""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from widget_support import DESKTOP, PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WIDGET = ".upwell-chat"
BOT_ROWS = f"{WIDGET} .uc-row--bot"
USER_ROWS = f"{WIDGET} .uc-row--user"
QUICK_REPLIES = f"{WIDGET} .uc-quick-reply"
REPLY_WAIT_MS = 60_000  # the first message after start-up warms the model up


@pytest.fixture(scope="module")
def live_web_url(request) -> str:
    url = os.environ.get("WIDGET_E2E_WEB_URL")
    if url:
        return url.rstrip("/")
    try:
        stack = request.getfixturevalue("bot_stack")
    except pytest.FixtureLookupError:
        pytest.skip("needs the bot_stack fixture (tests/conftest.py) or WIDGET_E2E_WEB_URL")
    assert stack.web_url, "bot_stack started no web chat page (scripts/serve_web.py)"
    return stack.web_url


def open_chat(page) -> None:
    page.click(f"{WIDGET} .uc-launcher")
    # The greeting comes from the real bot, so the socket, the session and CORS all work.
    try:
        expect(page.locator(BOT_ROWS).first).to_be_visible(timeout=REPLY_WAIT_MS)
    except AssertionError:
        status = page.locator(f"{WIDGET} .uc-status").inner_text()
        origin = page.evaluate("() => location.origin")
        raise AssertionError(
            f"no greeting from the bot (the widget says {status!r}); the Rasa server must run "
            f"with ALLOWED_ORIGINS including {origin}"
        ) from None


def send(page, text: str) -> None:
    page.fill(f"{WIDGET} .uc-input", text)
    page.press(f"{WIDGET} .uc-input", "Enter")


def wait_for_more_bot_rows(page, than: int) -> None:
    page.wait_for_function(
        "([selector, count]) => document.querySelectorAll(selector).length > count",
        arg=[BOT_ROWS, than], timeout=REPLY_WAIT_MS,
    )


def test_real_bot_conversation_quick_reply_reload_and_red_flag(live_web_url, open_page):
    page = open_page(live_web_url, viewport=DESKTOP)
    open_chat(page)

    rows = page.locator(BOT_ROWS).count()
    send(page, "my knee hurts going down stairs")
    wait_for_more_bot_rows(page, rows)
    expect(page.locator(QUICK_REPLIES).first).to_be_visible(timeout=REPLY_WAIT_MS)
    screenshot(page, "e2e-desktop-1-knee-reply")

    rows = page.locator(BOT_ROWS).count()
    # the first question is the chest-pain safety check: tap "No" (a "Yes" is an emergency)
    choice = page.locator(QUICK_REPLIES).nth(1)
    title = choice.inner_text()
    assert title == "No"
    choice.click()
    expect(page.locator(USER_ROWS).last).to_contain_text(title)
    wait_for_more_bot_rows(page, rows)

    transcript = page.locator(f"{WIDGET} .uc-row").all_inner_texts()
    page.reload()
    expect(page.locator(f"{WIDGET} .uc-row")).to_have_count(len(transcript))
    assert page.locator(f"{WIDGET} .uc-row").all_inner_texts() == transcript
    screenshot(page, "e2e-desktop-2-after-reload")

    send(page, "I have crushing chest pain")
    alert = page.locator(f"{WIDGET} .uc-alert--emergency").last
    expect(alert).to_be_visible(timeout=REPLY_WAIT_MS)
    expect(alert).to_contain_text("000")
    expect(alert.locator("a.uc-call--primary")).to_have_attribute("href", "tel:000")
    screenshot(page, "e2e-desktop-3-red-flag")


def test_real_bot_red_flag_alert_on_a_phone(live_web_url, open_page):
    page = open_page(live_web_url, viewport=PHONE)
    open_chat(page)
    send(page, "I have crushing chest pain")
    alert = page.locator(f"{WIDGET} .uc-alert--emergency").last
    expect(alert).to_be_visible(timeout=REPLY_WAIT_MS)
    expect(alert.locator("a.uc-call--primary")).to_be_in_viewport()
    screenshot(page, "e2e-phone-red-flag")


def test_real_bot_a_see_a_doctor_today_flag_offers_healthdirect_not_an_ambulance(live_web_url, open_page):
    page = open_page(live_web_url, viewport=DESKTOP)
    open_chat(page)
    send(page, "my knee pain wakes me up every night")
    alert = page.locator(f"{WIDGET} .uc-alert--urgent").last
    expect(alert).to_be_visible(timeout=REPLY_WAIT_MS)
    expect(alert).to_contain_text("within 24 hours")
    expect(alert.locator("a.uc-call--primary")).to_have_attribute("href", "tel:1800022222")
    expect(alert.locator('a[href="tel:000"]')).to_have_count(0)
    screenshot(page, "e2e-desktop-urgent-flag")


def test_real_bot_another_language_gets_a_tap_to_call_interpreter_number(live_web_url, open_page):
    page = open_page(live_web_url, viewport=PHONE)
    open_chat(page)
    rows = page.locator(BOT_ROWS).count()
    send(page, "me duele la rodilla cuando subo escaleras")
    wait_for_more_bot_rows(page, rows)
    reply = page.locator(BOT_ROWS).last
    expect(reply).to_contain_text("only chat in English", timeout=REPLY_WAIT_MS)
    expect(reply.locator('a[href="tel:131450"]')).to_have_count(1)
    expect(reply.locator('a[href="tel:000"]')).to_have_count(1)
