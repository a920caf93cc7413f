"""A coordinator works the queue in headless Chromium (Playwright): opens the oldest item, reads the
patient's words next to each thing to check, records a call attempt and a next-action date, ticks an
item, corrects an answer (the result changes, the original stays visible), prints the visit summary
and reads the funnel page; axe-core finds no violations on these pages. Screenshots of each page,
at desktop and phone widths, go to the test's folder (look at them when the pages change)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from sqlalchemy import update

from browserkit import LiveServer, browser, page  # noqa: F401  (fixtures: one Chromium per module)
from test_staff_browser import in_thread, log_in
from test_staff_helpers import REAL_LIKELY, REAL_TOO_YOUNG, Chat, add_staff, csrf_app, store_of
from test_work import REAL_HIV_UNSURE

from bot.db.schema import conversations

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("PRESCREEN_SCREENSHOTS")   # a folder to keep the screenshots in (else the test's)


@pytest.fixture()
def server(tmp_path):
    """The real trial: a needs-review patient waiting 6 days (the oldest), a likely-eligible one
    waiting 1 day, a ruled-out one (not in the queue)."""
    app = csrf_app(tmp_path)
    add_staff(app, "carol")

    def talk():
        Chat(app, "unsure-conversation-01").run(REAL_HIV_UNSURE)
        Chat(app, "likely-conversation-01").run(REAL_LIKELY)
        Chat(app, "young-conversation-001").run(REAL_TOO_YOUNG)
        now = dt.datetime.now(dt.timezone.utc)
        with store_of(app).engine.begin() as conn:
            for sender, days in (("unsure-conversation-01", 6), ("likely-conversation-01", 1)):
                conn.execute(update(conversations).where(conversations.c.id == sender)
                             .values(needs_person_since=now - dt.timedelta(days=days)))

    in_thread(talk)
    live = LiveServer(app)
    yield live
    live.stop()


def shoot(page, tmp_path: Path, name: str) -> None:
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_coordinator_works_the_queue(server, page, tmp_path):
    from axe_playwright_python.sync_playwright import Axe

    axe, base, violations = Axe(), server.url, {}
    log_in(page, base)
    queue = page.locator("table.queue tbody tr")
    assert queue.count() == 2, "in the queue: the two who need a person, not the ruled-out one"
    assert "6 days" in queue.first.inner_text() and "Needs review" in queue.first.inner_text()
    assert "HIV" in queue.first.locator("td.checks").inner_text()
    violations["queue"] = axe.run(page)
    shoot(page, tmp_path, "queue-desktop")

    # the oldest item
    queue.first.locator("th.ref a").click()
    page.wait_for_url("**/staff/conversations/unsure-conversation-01**")
    item = page.locator("ol.to-check li.check-item").first
    assert "HIV" in item.locator(".item-text").inner_text()
    words = item.locator(".item-answers li").first.inner_text()
    assert "hiv" in words and "patient's words" in words and "Not sure" in words and "tapped" in words
    violations["conversation"] = axe.run(page)
    shoot(page, tmp_path, "conversation-desktop")

    # a call attempt
    page.locator("#at-method").select_option("phone")
    page.locator("#at-result").select_option("no_answer")
    page.locator("#at-note").fill("No voicemail set up")
    page.get_by_role("button", name="Record the attempt").click()
    page.wait_for_url("**#attempts")
    assert page.locator("#attempt-count").inner_text() == "1"
    assert "No answer" in page.locator("table.attempts tbody tr").first.inner_text()

    # the next action and the owner
    page.locator("#fu-owner").select_option("carol")
    page.locator("#fu-next").fill("2026-12-02")
    page.get_by_role("button", name="Save follow-up").click()
    page.wait_for_url("**#follow-up")
    assert page.locator("#next-action").inner_text() == "2026-12-02"
    assert page.locator("#owner").inner_text() == "carol"

    # tick the item, with a note
    page.locator("ol.to-check li.check-item").first.get_by_label("Note").fill("Asked her doctor's office")
    page.get_by_role("button", name="Tick as checked").click()
    page.wait_for_url("**#to-check")
    assert "(1 of 1 done)" in page.locator("#to-check").inner_text()
    assert "Asked her doctor's office" in page.locator("ol.to-check").inner_text()

    # correct the answer: the result changes, the patient's answer stays visible
    row = page.locator("#answer-hiv")
    row.locator("summary", has_text="Correct this answer").click()
    row.get_by_label("Corrected value").select_option("no")
    row.get_by_label("Why").fill("Her doctor's office confirmed a negative test")
    row.get_by_role("button", name="Save the correction").click()
    page.wait_for_url("**#answers")
    assert page.locator("#outcome").inner_text() == "Likely eligible"
    assert "The result changed from Needs review to Likely eligible" in page.locator(".flash").first.inner_text()
    hiv = page.locator("#answer-hiv").inner_text()
    assert "Patient's answer: unknown" in hiv and "corrected by staff" in hiv
    assert page.locator("#re-evaluated").is_visible()
    shoot(page, tmp_path, "conversation-after-work")

    # the printable visit summary
    page.get_by_role("link", name="Printable screening-visit summary").click()
    assert page.locator("#vs-reference").inner_text() == store_of(server.app).conversation(
        "unsure-conversation-01")["reference"]
    assert "Likely eligible" in page.locator("#vs-outcome").inner_text()
    assert "No answer" in page.locator("#vs-history").inner_text()
    violations["visit summary"] = axe.run(page)
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible(), "the print hides the staff navigation"
    shoot(page, tmp_path, "visit-summary-print")
    page.emulate_media(media="screen")

    # the funnel
    page.goto(base + "/staff/insights")
    charts = page.locator("svg[role=img]")
    assert charts.count() >= 3, "the funnel, the weeks, where people stop (and the criteria, when any)"
    assert "Opened" in page.locator("main table").first.inner_text()
    assert page.locator("main table").count() >= charts.count(), "a table under each chart"
    violations["insights"] = axe.run(page)
    shoot(page, tmp_path, "insights-desktop")

    # the queue now: the corrected one is likely eligible, owned by carol, its item done
    page.goto(base + "/staff/?owner=me")
    mine = page.locator("table.queue tbody tr")
    assert mine.count() == 1 and "Likely eligible" in mine.first.inner_text() and "2026-12-02" in mine.first.inner_text()
    for name, results in violations.items():
        assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"


def test_the_work_pages_fit_a_phone(server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page = context.new_page()
    try:
        log_in(page, server.url)
        for name, url in (("queue", "/staff/"), ("conversation", "/staff/conversations/unsure-conversation-01"),
                          ("insights", "/staff/insights")):
            page.goto(server.url + url)
            shoot(page, tmp_path, f"{name}-phone")
            # wide tables scroll inside their own box; the page itself never scrolls sideways
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{url} scrolls sideways by {overflow}px on a phone"
    finally:
        context.close()
