"""A clinician signs in with a real browser (Debian's chromium through Playwright), opens the
urgent conversation at the top of the queue, adds a note and marks it reviewed."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from django.test import LiveServerTestCase
from review_fixtures import PASSWORD, build_booking_db, build_tracker_db, clinic_conversations, make_staff

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def review_in_browser(base_url: str, username: str, password: str, conversation_id: str,
                      patient_text: str, screenshots: str) -> None:
    """Sign in, find the conversation at the top of the queue as urgent, open it, add a note and
    mark it reviewed; then check it left the top of the queue. Screenshots go to test-artifacts/.

    Reusable with any tracker store: it needs only an urgent conversation and a staff account
    (for example a conversation the running bot produced)."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base_url + "/")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            page.get_by_label("User name").fill(username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()

            expect(page.get_by_role("heading", name="Conversations to review")).to_be_visible()
            first_row = page.locator("table.queue tbody tr").first
            expect(first_row).to_have_class("urgent")
            expect(first_row).to_contain_text("Needs review")
            assert serious_violations(page) == []
            page.screenshot(path=str(ARTIFACTS / f"{screenshots}-queue.png"), full_page=True)

            first_row.get_by_role("link", name=conversation_id[:25]).click()
            expect(page.get_by_role("heading", name="Triage record Urgent")).to_be_visible()
            expect(page.locator(".said.patient").filter(has_text=patient_text)).to_be_visible()
            note = "Rang the patient: going to ED now."
            page.get_by_label("Add a note").fill(note)
            page.get_by_role("button", name="Save note").click()
            expect(page.locator(".notes")).to_contain_text(note)
            page.get_by_role("button", name="Mark as reviewed").click()
            expect(page.locator(".review-bar .done")).to_contain_text(f"Reviewed by {username}")
            assert serious_violations(page) == []
            page.screenshot(path=str(ARTIFACTS / f"{screenshots}-conversation.png"), full_page=True)

            page.get_by_role("link", name="Back to the queue").click()
            reviewed_row = page.locator("table.queue tbody tr").filter(has_text=f"Reviewed by {username}")
            expect(reviewed_row).to_have_count(1)
            expect(reviewed_row).not_to_have_class("urgent")

            tablet = browser.new_page(viewport={"width": 768, "height": 1024}, has_touch=True)
            tablet.context.add_cookies(page.context.cookies())
            tablet.goto(base_url + "/")
            expect(tablet.locator("table.queue tbody tr").first).to_be_visible()
            tablet.screenshot(path=str(ARTIFACTS / f"{screenshots}-queue-tablet.png"), full_page=True)
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)")
class ClinicianReviewsInABrowser(LiveServerTestCase):
    host = "127.0.0.1"

    def setUp(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="review-browser-"))
        build_tracker_db(self.folder / "transcripts.db", clinic_conversations())
        build_booking_db(self.folder / "clinic.db", [
            {"kind": "callback", "conversation_id": "conv-stairs", "name": "Sam Lee", "phone": "0412 345 678"}])
        self.stores = self.settings(TRACKER_DB_URL=f"sqlite:///{self.folder / 'transcripts.db'}",
                                    BOOKING_DB_URL=f"sqlite:///{self.folder / 'clinic.db'}",
                                    ALLOWED_HOSTS=["127.0.0.1"])
        self.stores.enable()
        make_staff("casey", "clinician")
        # Playwright's sync API keeps an event loop in this thread; the ORM calls made here are
        # plain synchronous test set-up, not request handling.
        self._async_flag = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    def tearDown(self) -> None:
        self.stores.disable()
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._async_flag is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    def test_sign_in_review_and_note(self) -> None:
        review_in_browser(self.live_server_url, "casey", PASSWORD, "conv-infection",
                          patient_text="hot, red and swollen", screenshots="review")
