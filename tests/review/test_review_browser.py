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
        from playwright.sync_api import expect, sync_playwright

        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(self.live_server_url + "/")
                expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
                page.get_by_label("User name").fill("casey")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()

                expect(page.get_by_role("heading", name="Conversations to review")).to_be_visible()
                first_row = page.locator("table.queue tbody tr").first
                expect(first_row).to_have_class("urgent")
                expect(first_row).to_contain_text("Red flag: infection")
                self.assertEqual(serious_violations(page), [])
                page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)

                first_row.get_by_role("link", name="conv-infection").click()
                expect(page.get_by_role("heading", name="Triage record Urgent")).to_be_visible()
                expect(page.locator(".said.patient").nth(1)).to_contain_text("hot, red and swollen")
                page.get_by_label("Add a note").fill("Rang the patient: going to ED now.")
                page.get_by_role("button", name="Save note").click()
                expect(page.locator(".notes")).to_contain_text("Rang the patient: going to ED now.")
                page.get_by_role("button", name="Mark as reviewed").click()
                expect(page.locator(".review-bar .done")).to_contain_text("Reviewed by casey")
                self.assertEqual(serious_violations(page), [])
                page.screenshot(path=str(ARTIFACTS / "review-conversation.png"), full_page=True)

                page.get_by_role("link", name="Back to the queue").click()
                expect(page.locator("table.queue tbody tr").first).not_to_contain_text("conv-infection")
                expect(page.locator("table.queue tbody tr").last).to_contain_text("Reviewed by casey")

                tablet = browser.new_page(viewport={"width": 768, "height": 1024}, has_touch=True)
                tablet.context.add_cookies(page.context.cookies())
                tablet.goto(self.live_server_url + "/")
                expect(tablet.locator("table.queue tbody tr").first).to_be_visible()
                tablet.screenshot(path=str(ARTIFACTS / "review-queue-tablet.png"), full_page=True)
            finally:
                browser.close()
