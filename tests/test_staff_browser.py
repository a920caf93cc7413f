"""The staff screens in headless Chromium (Playwright): a coordinator logs in,
filters, opens a conversation, marks it contacted with a note, and exports a
CSV; patient markup stays text; the pages pass an axe scan and fit a tablet."""

from __future__ import annotations

import csv
import threading

import pytest

from browserkit import LiveServer, browser, page  # noqa: F401  (fixtures: one Chromium per module)
from test_staff_helpers import (FICTIONAL, PASSWORD, REAL_ABANDONED, REAL_LIKELY, REAL_TOO_YOUNG, Chat, add_staff,
                                csrf_app, opt_in, store_of)


pytestmark = pytest.mark.browser
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def in_thread(work) -> None:
    """Run `work` in another thread: Playwright's event loop runs in this one, and the
    in-process actions need their own."""
    failures: list[BaseException] = []

    def target():
        try:
            work()
        except BaseException as exc:  # handed to the test
            failures.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


@pytest.fixture()
def server(tmp_path):
    """The real trial with three conversations, one with markup typed at the age question."""
    app = csrf_app(tmp_path)
    add_staff(app, "carol")

    def talk():
        Chat(app, "likely").run(REAL_LIKELY)
        Chat(app, "young").run(REAL_TOO_YOUNG)
        Chat(app, "gone").run(["hi", "tap:Start", f"{SCRIPT} {IMG}"] + REAL_ABANDONED[2:])

    in_thread(talk)
    live = LiveServer(app)
    yield live
    live.stop()


@pytest.fixture()
def watched(page):
    """The page, failing the test on any JavaScript dialog or CSP violation."""
    problems: list[str] = []
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.problems = problems
    return page


def log_in(page, base: str, name: str = "carol", password: str = PASSWORD) -> None:
    page.goto(base + "/staff/")
    assert "/staff/login" in page.url
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/staff/")


def rows(page) -> int:
    return page.locator("table.list tbody tr a").count()


def test_coordinator_filters_reads_marks_contacted_and_exports(server, watched, tmp_path):
    page, base = watched, server.url
    log_in(page, base)
    assert rows(page) == 1, "the work queue: only the likely-eligible one needs a person"
    page.get_by_role("link", name="All conversations", exact=True).click()
    assert rows(page) == 3
    assert page.locator("#count-started").inner_text() == "3"

    # filter: the not-eligible ones
    page.get_by_label("Outcome").select_option("not_eligible")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**outcome=not_eligible**")
    assert rows(page) == 1 and page.locator("#count-started").inner_text() == "1"

    # open it: transcript, answers, result
    page.locator("table.list tbody tr a").first.click()
    page.wait_for_url("**/staff/conversations/young**")
    assert page.locator("#outcome").inner_text() == "Not eligible"
    assert page.locator(".transcript .msg-patient .text", has_text="17").count() == 1
    assert page.locator("table.answers tbody tr").first.inner_text().split()[:3] == ["age", "17", "17"]
    assert page.locator("table.criteria .verdict-fail").count() >= 1

    # follow-up: contacted, with a note
    page.get_by_label("Status").select_option("contacted")
    page.locator("#fu-note").fill("Called; not 18 yet, will call again next year.")
    page.get_by_role("button", name="Save follow-up").click()
    page.wait_for_url("**#follow-up")
    assert page.locator("#status").inner_text() == "Contacted"
    history = page.locator("table.history tbody tr")
    assert history.count() == 1
    assert "carol" in history.first.inner_text() and "will call again next year" in history.first.inner_text()
    assert store_of(server.app).conversation("young")["status"] == "contacted"

    # back to the list, filtered by the new status, and export it
    page.get_by_role("link", name="← Back").click()
    page.get_by_label("Outcome").select_option("")
    page.get_by_label("Follow-up").select_option("contacted")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**status=contacted**")
    assert rows(page) == 1
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    path = tmp_path / "export.csv"
    info.value.save_as(path)
    exported = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert [(r["conversation_id"], r["status"], r["outcome"], r["age"]) for r in exported] == [
        ("young", "contacted", "not_eligible", "17")]
    assert page.problems == []


def test_patient_markup_is_shown_as_text(server, watched):
    page, base = watched, server.url
    log_in(page, base)
    page.goto(base + "/staff/conversations")
    page.get_by_label("Patient's words").fill("alert")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**q=alert**")
    assert rows(page) == 1
    assert page.locator("td.said").inner_text() == f"{SCRIPT} {IMG}"
    page.locator("table.list tbody tr a").first.click()
    page.wait_for_url("**/staff/conversations/gone**")
    assert page.locator(".transcript .msg-patient .text", has_text=SCRIPT).inner_text() == f"{SCRIPT} {IMG}"
    assert page.locator("main script, main img").count() == 0
    assert page.problems == []


def test_contact_details_of_a_fictional_trial_patient(tmp_path, page):
    app = csrf_app(tmp_path, CRITERIA=FICTIONAL)
    add_staff(app)
    in_thread(lambda: opt_in(app, "wants-call", "Ann Lee", "ann@example.org"))
    live = LiveServer(app)
    try:
        log_in(page, live.url)
        page.goto(live.url + "/staff/conversations")
        page.get_by_label("Contact requested").select_option("yes")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**contact=yes**")
        assert rows(page) == 1 and page.locator("#count-contact").inner_text() == "1"
        page.locator("table.list tbody tr a").first.click()
        assert page.locator("#contact-name").inner_text() == "Ann Lee"
        assert page.locator("#contact-details").inner_text() == "ann@example.org"
    finally:
        live.stop()


def test_axe_finds_no_violations_on_the_staff_pages(server, page):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    base = server.url
    page.goto(base + "/staff/login")
    checked = {"login": axe.run(page)}
    log_in(page, base)
    checked["list"] = axe.run(page)
    page.goto(base + "/staff/conversations?q=diffuse")
    checked["search"] = axe.run(page)
    page.goto(base + "/staff/conversations/likely")
    checked["conversation"] = axe.run(page)
    for name, results in checked.items():
        assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"


@pytest.mark.parametrize("width, height", [(768, 1024), (1024, 768)])
def test_pages_fit_a_tablet(server, browser, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        log_in(page, server.url)
        for url in ("/staff/", "/staff/conversations/likely"):
            page.goto(server.url + url)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{url} scrolls sideways by {overflow}px at {width}x{height}"
            size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
            assert size >= 16
    finally:
        context.close()
