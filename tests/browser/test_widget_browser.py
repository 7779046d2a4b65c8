"""The chat widget in real headless Chromium, against a fake bot (no trained model needed)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from widget_support import DESKTOP, PHONE, screenshot

pytestmark = pytest.mark.browser

WIDGET = ".upwell-chat"
BOT_ROWS = f"{WIDGET} .uc-row--bot"
USER_ROWS = f"{WIDGET} .uc-row--user"
QUICK_REPLIES = f"{WIDGET} .uc-quick-reply"


def open_chat(page):
    page.click(f"{WIDGET} .uc-launcher")
    expect(page.locator(f"{WIDGET} .uc-panel")).to_be_visible()
    expect(page.locator(BOT_ROWS).first).to_contain_text("knee helper")  # the greeting


def send(page, text: str) -> None:
    page.fill(f"{WIDGET} .uc-input", text)
    page.press(f"{WIDGET} .uc-input", "Enter")


def texts(page, selector: str) -> list[str]:
    """What each matching element shows, without the words only screen readers get."""
    return page.locator(selector).evaluate_all(
        """rows => rows.map(row => {
            const copy = row.cloneNode(true);
            copy.querySelectorAll('.uc-visually-hidden').forEach(hidden => hidden.remove());
            return copy.textContent.trim();
        })"""
    )


def test_conversation_with_quick_replies_survives_a_reload_and_a_new_page(site, open_page):
    page = open_page(site.web_url)
    screenshot(page, "desktop-1-page-closed")
    open_chat(page)
    assert site.bot.messages() == ["/greet"]  # sent hidden: not shown as the user's message
    assert texts(page, USER_ROWS) == []

    send(page, "my knee hurts going down stairs")
    expect(page.locator(BOT_ROWS)).to_have_count(2)
    expect(page.locator(BOT_ROWS).last).to_contain_text("Does it hurt more going down stairs")
    expect(page.locator(QUICK_REPLIES)).to_have_text(["Yes", "No", "Not sure"])
    screenshot(page, "desktop-2-quick-replies")

    page.locator(QUICK_REPLIES, has_text="Yes").click()
    expect(page.locator(BOT_ROWS)).to_have_count(4)
    assert site.bot.messages()[-1] == "/affirm"  # the payload goes to the bot...
    assert texts(page, USER_ROWS)[-1] == "Yes"  # ...the title is what the patient sees
    expect(page.locator(QUICK_REPLIES)).to_have_count(0)
    session_id = site.bot.received[-1][0]
    before = texts(page, f"{WIDGET} .uc-row")

    page.reload()
    expect(page.locator(f"{WIDGET} .uc-panel")).to_be_visible()  # it was open: it stays open
    expect(page.locator(f"{WIDGET} .uc-row")).to_have_count(len(before))
    assert texts(page, f"{WIDGET} .uc-row") == before
    page.wait_for_function("() => window.UpwellChat.widget && window.UpwellChat.widget.sessionConfirmed")
    assert site.bot.session_requests[-1] == session_id
    assert site.bot.messages().count("/greet") == 1  # no second greeting
    screenshot(page, "desktop-3-after-reload")

    page.goto(site.web_url + "/index.html#contact")  # another page of the site, same tab
    expect(page.locator(f"{WIDGET} .uc-row")).to_have_count(len(before))
    send(page, "hello again")
    expect(page.locator(BOT_ROWS).last).to_contain_text("You said: hello again")
    assert site.bot.received[-1] == (session_id, "hello again")


def test_red_flag_reply_is_an_alert_with_tap_to_call(site, open_page):
    page = open_page(site.web_url)
    open_chat(page)
    send(page, "I have crushing chest pain")

    alert = page.locator(f"{WIDGET} .uc-alert--emergency")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("This needs help now")
    expect(alert).to_contain_text("Please call 000 now for an ambulance")
    expect(alert.locator("a.uc-call--primary")).to_have_attribute("href", "tel:000")
    expect(alert.locator("a.uc-call--primary")).to_have_text("Call 000")
    screenshot(page, "desktop-4-emergency-alert")

    send(page, "I want to hurt myself")
    crisis = page.locator(f"{WIDGET} .uc-alert--crisis")
    expect(crisis).to_be_visible()
    assert crisis.locator("a.uc-call").evaluate_all("links => links.map(a => a.href)") == [
        "tel:131114", "tel:000"
    ]
    screenshot(page, "desktop-5-crisis-alert")


def test_alert_text_rule_is_a_fallback_and_the_greeting_is_no_alert(site, open_page):
    page = open_page(site.web_url)
    open_chat(page)
    greeting = page.locator(BOT_ROWS).first
    expect(greeting.locator(".uc-alert")).to_have_count(0)
    expect(greeting.locator("a.uc-tel")).to_have_attribute("href", "tel:000")

    send(page, "unmarked escalation please")
    expect(page.locator(f"{WIDGET} .uc-alert--emergency")).to_contain_text("Please call 000 now")


def test_bot_text_is_never_html_and_only_safe_links_are_links(site, open_page):
    page = open_page(site.web_url)
    open_chat(page)
    send(page, "tricky text")
    bubble = page.locator(BOT_ROWS).last
    expect(bubble).to_contain_text('<img src=x onerror="window.__xss=1">')
    assert bubble.locator("img").count() == 0
    assert page.evaluate("() => window.__xss") is None
    expect(bubble.locator("strong")).to_have_text("Keep moving")
    links = bubble.locator("a").evaluate_all(
        "links => links.map(a => [a.textContent, a.getAttribute('href'), a.rel])"
    )
    assert links == [
        ["our guide", "https://upwell.example/knee", "noopener noreferrer"],
        ["https://upwell.example/faq", "https://upwell.example/faq", "noopener noreferrer"],
    ]
    expect(bubble).to_contain_text("[this](javascript:window.__xss=2)")


def test_the_start_of_a_long_reply_stays_in_view(site, open_page):
    page = open_page(site.web_url)
    open_chat(page)
    send(page, "where does it hurt")
    expect(page.locator(QUICK_REPLIES)).to_have_count(8)
    # The widget scrolls on the next frame: wait for the reply's first message to sit in the
    # upper half of the conversation (at the end, the question would be scrolled out of sight).
    page.wait_for_function(
        """() => {
            const log = document.querySelector('.upwell-chat .uc-log').getBoundingClientRect();
            const rows = document.querySelectorAll('.upwell-chat .uc-row--bot');
            const top = rows[1].getBoundingClientRect().top;
            return top >= log.top && top < log.top + log.height / 2;
        }"""
    )
    screenshot(page, "desktop-7-many-quick-replies")


def test_one_script_tag_embeds_the_widget_on_another_website(site, open_page):
    """It fetches its stylesheet and socket client from where the script came from."""
    page = open_page(site.other_site_url)
    page.click(f"{WIDGET} .uc-launcher")
    expect(page.locator(f"{WIDGET} .uc-title")).to_have_text("Ask about your knee")
    expect(page.locator(BOT_ROWS).first).to_contain_text("knee helper")
    expect(page.locator(f"{WIDGET} .uc-footer a.uc-tel")).to_have_attribute("href", "tel:0370109999")
    send_button = page.locator(f"{WIDGET} .uc-send")
    assert send_button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(15, 94, 99)"
    screenshot(page, "desktop-8-embedded-elsewhere")


@pytest.mark.parametrize("websocket_only", [False, True], ids=["polling-then-websocket", "websocket-only"])
def test_both_transport_settings_reach_the_bot(site, open_page, websocket_only):
    polls = []
    page = open_page("about:blank")  # routes first, then the demo page
    if websocket_only:
        def config_js(route):
            body = route.fetch().text().replace('"storage"', '"transports": ["websocket"],\n  "storage"')
            route.fulfill(body=body, content_type="application/javascript")

        page.route("**/config.js", config_js)
    page.on("request", lambda r: polls.append(r.url) if "transport=polling" in r.url else None)
    page.goto(site.web_url)
    open_chat(page)
    send(page, "hello")
    expect(page.locator(BOT_ROWS).last).to_contain_text("You said: hello")
    # Several Rasa workers without sticky sessions must never see a long-poll.
    assert (polls == []) == websocket_only


def test_typing_indicator_shows_until_the_reply_arrives(site, open_page):
    page = open_page(site.web_url)
    open_chat(page)
    site.bot.reply_delay = 1.0
    send(page, "are you there")
    expect(page.locator(f"{WIDGET} .uc-typing")).to_be_visible()
    expect(page.locator(BOT_ROWS).last).to_contain_text("You said: are you there")
    expect(page.locator(f"{WIDGET} .uc-typing")).to_be_hidden()


def test_keyboard_alone_opens_answers_and_closes_the_chat(site, open_page):
    page = open_page(site.web_url)
    launcher = page.locator(f"{WIDGET} .uc-launcher")
    for _ in range(30):  # Tab through the page until the launcher has focus
        page.keyboard.press("Tab")
        if launcher.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the chat launcher cannot be reached with Tab")
    outline = launcher.evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline == "solid 3px"  # focus is visible

    page.keyboard.press("Enter")
    expect(page.locator(f"{WIDGET} .uc-input")).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    page.keyboard.type("my knee hurts")
    page.keyboard.press("Enter")
    expect(page.locator(QUICK_REPLIES)).to_have_count(3)

    page.keyboard.press("Shift+Tab")  # back from the message box to the last suggested reply
    expect(page.locator(QUICK_REPLIES).last).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.locator(QUICK_REPLIES).nth(1)).to_be_focused()  # "No"
    screenshot(page, "desktop-6-keyboard-focus")
    page.keyboard.press("Enter")
    expect(page.locator(USER_ROWS).last).to_contain_text("No")
    expect(page.locator(BOT_ROWS).last).to_contain_text("You said: /deny")  # the payload went
    expect(page.locator(f"{WIDGET} .uc-input")).to_be_focused()

    page.keyboard.press("Escape")
    expect(page.locator(f"{WIDGET} .uc-panel")).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_phone_width_fills_the_screen_without_sideways_scrolling(site, open_page):
    page = open_page(site.web_url, viewport=PHONE)
    screenshot(page, "phone-1-page-closed")
    open_chat(page)
    send(page, "my knee hurts going down stairs")
    expect(page.locator(QUICK_REPLIES)).to_have_count(3)
    screenshot(page, "phone-2-quick-replies")
    send(page, "I have crushing chest pain")
    expect(page.locator(f"{WIDGET} .uc-alert--emergency")).to_be_visible()
    screenshot(page, "phone-3-emergency-alert")

    panel = page.locator(f"{WIDGET} .uc-panel").bounding_box()
    assert (panel["x"], panel["width"]) == (0, PHONE["width"])
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    for selector in (".uc-input", ".uc-send", ".uc-close", ".uc-call"):
        box = page.locator(f"{WIDGET} {selector}").first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], selector
        assert box["height"] >= 44, f"{selector} is too small to tap"


def test_clear_chat_forgets_the_conversation(site, open_page):
    page = open_page(site.web_url)
    open_chat(page)
    send(page, "my knee hurts")
    expect(page.locator(QUICK_REPLIES)).to_have_count(3)
    old_session = site.bot.received[-1][0]

    page.click(f"{WIDGET} .uc-link-button")
    expect(page.locator(f"{WIDGET} .uc-row--user")).to_have_count(0)
    expect(page.locator(BOT_ROWS)).to_have_count(1)  # a fresh greeting
    new_session = site.bot.received[-1][0]
    assert new_session != old_session
    page.reload()
    expect(page.locator(f"{WIDGET} .uc-row--user")).to_have_count(0)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_open_widget_has_no_serious_accessibility_violations(site, open_page, viewport):
    from axe_playwright_python.sync_playwright import Axe

    page = open_page(site.web_url, viewport=viewport)
    open_chat(page)
    send(page, "my knee hurts going down stairs")
    expect(page.locator(QUICK_REPLIES)).to_have_count(3)
    send(page, "I have crushing chest pain")
    expect(page.locator(f"{WIDGET} .uc-alert")).to_be_visible()
    send(page, "I want to hurt myself")
    expect(page.locator(f"{WIDGET} .uc-alert--crisis")).to_be_visible()

    results = Axe().run(page, context=WIDGET)
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], results.generate_report()


def test_a_long_message_shows_a_counter_and_one_too_long_is_kept_not_cut(site, open_page):
    page = open_page(site.web_url)
    open_chat(page)
    box = page.locator(f"{WIDGET} .uc-input")
    status = page.locator(f"{WIDGET} .uc-status")
    near = "my knee aches on the stairs. " * 330  # about 9,600 characters
    box.fill(near)
    box.dispatch_event("input")
    expect(status).to_contain_text("characters left")
    too_long = near + "x" * 1000
    box.fill(too_long)
    page.press(f"{WIDGET} .uc-input", "Enter")
    expect(status).to_contain_text("Please split it")
    assert box.input_value() == too_long  # nothing cut, nothing sent
    assert texts(page, USER_ROWS) == []
