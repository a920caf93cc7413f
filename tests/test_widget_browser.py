"""The widget in a real browser (headless Debian Chromium via Playwright).

Every page the app serves here carries the production Content-Security-Policy,
so an inline script or style in the widget would break these tests.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from browserkit import CHROMIUM, CHROMIUM_ARGS, ROOT, LiveServer, _need_browser, make_app, page  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium for this module only (browserkit's, but module-scoped).

    Playwright's sync API keeps an asyncio loop running in the main thread while it
    is open: a session-wide browser would leave it running for every later module
    (the in-process action runner cannot run then) and no second Playwright can start.
    """
    _need_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()

CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
WEBHOOK = "**/webhooks/rest/webhook"
EMBED = (ROOT / "tests" / "widget_pages" / "embed.html").read_text(encoding="utf-8")
XSS = "<img src=x onerror=alert(1)>"
WAIT = 15_000  # ms


def strict_app(tmp_path, **config):
    """The app with the production CSP on every response (if security.py has not set one)."""
    app = make_app(tmp_path, **config)

    @app.after_request
    def _csp(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    return app


@pytest.fixture()
def server(tmp_path):
    live = LiveServer(strict_app(tmp_path))
    yield live
    live.stop()


class _Http10(WSGIRequestHandler):
    """No keep-alive: a stopped server is really gone for the browser."""

    protocol_version = "HTTP/1.0"


class PortServer:
    """A server on a chosen port (0: any), which can be stopped and started again."""

    def __init__(self, app, port: int = 0) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_Http10)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def embed_page(server_url: str, attrs: str = "") -> str:
    return EMBED.replace("%SERVER%", server_url).replace("%ATTRS%", attrs)


def serve_test_page(page, url: str, server_url: str, attrs: str) -> None:
    """Answer `url` (on the app's own origin) with a test page whose script tag has `attrs`."""
    html = embed_page(server_url, attrs)
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html,
                                                headers={"Content-Security-Policy": CSP}))


class Chat:
    """The patient's side of the widget, driven through the page like a person would."""

    def __init__(self, page, url: str) -> None:
        self.page, self.url = page, url
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.log = page.locator(".psw-log")
        self.input = page.get_by_label("Your message")

    # -- actions
    def goto(self, path: str = "/") -> "Chat":
        self.page.goto(self.url + path)
        self.page.locator(".psw-launcher").wait_for(state="attached")
        return self

    def open(self) -> "Chat":
        before = self.bot_count()
        self.page.get_by_role("button", name=re.compile("Chat")).click()
        self.wait_reply(before)
        return self

    def bot_count(self) -> int:
        return self.page.locator(".psw-log .psw-bot").count()

    def wait_reply(self, before: int) -> None:
        self.page.wait_for_function(
            """n => document.querySelectorAll('.psw-log .psw-bot').length > n
                 && document.querySelector('.psw-panel').getAttribute('data-busy') !== 'true'""",
            arg=before, timeout=WAIT)

    def tap(self, *titles: str) -> None:
        """Tap an answer; on a question with several answers ("any of these"), pick each, then Done."""
        before = self.bot_count()
        for title in titles:
            button = self.log.get_by_role("button", name=title, exact=True, disabled=False).last
            toggle = button.get_attribute("aria-pressed") is not None
            button.click()
        if toggle:
            self.log.get_by_role("button", name="Done", exact=True, disabled=False).last.click()
        self.wait_reply(before)

    def type(self, text: str) -> None:
        before = self.bot_count()
        self.input.fill(text)
        self.input.press("Enter")
        self.wait_reply(before)

    def menu(self, name: str) -> None:
        """Choose `name` in the header's menu."""
        menu = self.page.get_by_role("button", name="Menu", exact=True)
        if menu.get_attribute("aria-expanded") != "true":
            menu.click()
        self.page.get_by_role("button", name=name, exact=True).click()

    def tool(self, name: str) -> None:
        before = self.bot_count()
        self.menu(name)
        self.wait_reply(before)

    def end_and_clear(self) -> None:
        """End and clear, confirmed; returns when the study's system has deleted the conversation too."""
        self.menu("End and clear")
        self.page.get_by_role("alertdialog").get_by_role("button", name="Yes, clear everything").click()
        self.page.get_by_text("cleared from this device and from the study's system").wait_for(timeout=WAIT)

    # -- what the patient sees
    def last_bot(self) -> str:
        return self.page.locator(".psw-log .psw-bot .psw-text").last.inner_text()

    def result_text(self) -> str | None:
        """The result message, if the latest replies hold one (a "wrong tap?" offer follows it)."""
        texts = self.page.locator(".psw-log .psw-bot .psw-text").all_inner_texts()[-2:]
        return next((t for t in texts if t.startswith("Result:")), None)

    def mine(self) -> list[str]:
        """The patient's sent messages as shown (pending ones left out)."""
        return self.page.locator(".psw-log .psw-me:not(.psw-pending) .psw-text").all_inner_texts()

    def choices(self) -> list[str]:
        return self.page.locator(".psw-log .psw-choices .psw-choice:not([disabled])").all_inner_texts()

    def state(self):
        return self.page.evaluate("""() => {
            for (const k of Object.keys(localStorage))
                if (k.startsWith('prescreen-widget:')) return JSON.parse(localStorage.getItem(k));
            return null; }""")

    def progress(self) -> str:
        return self.page.locator(".psw-progress").inner_text()


# -- answering the real trial's questions ----------------------------------------------------

PREFERRED = ["Yes, the diffuse type", "Skin getting thicker or tighter", "None of these",
             "Never had it", "Never had them", "No", "That's right, show my result"]


def button_answer(question: str, choices: list[str]) -> str | None:
    if "tried other treatment" in question and "Yes" in choices:
        return "Yes"
    return next((c for c in PREFERRED if c in choices), None)


def typed_answer(question: str) -> str:
    q = question.lower()
    if "here is what you told me" in q:
        return "yes"
    if "how old" in q:
        return "54"
    if "systemic sclerosis" in q:
        return "yes, the diffuse type"
    if "tried other treatment" in q:
        return "yes"
    if "do you have any of these?" in q:
        return "skin getting thicker"
    if "any of these that is not under control" in q:
        return "none of these"
    if "last dose" in q:
        return "never"
    return "no"


def run_to_result(chat: Chat, by: str = "buttons", seen: list[str] | None = None) -> str:
    """Answer every question until the result; `by` is "buttons" (typing only where no button fits) or "typing"."""
    for _ in range(40):
        text = chat.last_bot()
        if chat.result_text():
            return chat.result_text()
        if seen is not None and chat.page.locator(".psw-progress").is_visible():
            seen.append(chat.progress())
        choice = button_answer(text, chat.choices()) if by == "buttons" else None
        if choice:
            chat.tap(choice)
        else:
            chat.type(typed_answer(text))
    raise AssertionError(f"no result after 40 turns; last message: {chat.last_bot()!r}")


def user_texts(app, sender: str) -> list[str]:
    return [e.get("text") for e in app.extensions["prescreen_store"].events(sender) if e.get("event") == "user"]


# -- the tests ---------------------------------------------------------------------------------

def test_whole_conversation_by_buttons(server, page):
    chat = Chat(page, server.url).goto()
    launcher = page.get_by_role("button", name=re.compile("Chat"))
    assert launcher.get_attribute("aria-expanded") == "false"
    chat.open()
    assert launcher.is_hidden()
    assert page.get_by_role("dialog", name=server.app.extensions["prescreen_trial"].model.short_title).is_visible()
    assert page.locator("#psw-title").inner_text() == server.app.extensions["prescreen_trial"].model.short_title
    assert "Shall we start?" in chat.last_bot()
    menu = page.get_by_role("button", name="Menu", exact=True)
    assert menu.get_attribute("aria-expanded") == "false"
    for name in ("Start over", "Talk to a person", "End and clear"):
        assert page.get_by_role("button", name=name, exact=True).is_hidden()
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    for name in ("Start over", "Talk to a person", "End and clear"):
        assert page.get_by_role("button", name=name, exact=True).is_visible()
    page.keyboard.press("Escape")  # closes the menu, not the panel
    assert menu.get_attribute("aria-expanded") == "false" and page.locator(".psw-panel").is_visible()
    assert page.get_by_role("button", name="End and clear", exact=True).is_hidden()

    chat.tap("Start")
    assert chat.mine()[-1] == "Start"
    seen: list[str] = []
    result = run_to_result(chat, "buttons", seen)

    assert "you may be able to take part" in result
    assert "study team makes the final decision" in result
    assert seen[-1] == "Check your answers"      # the review before the result
    assert all(re.fullmatch(r"Question \d+ of \d+", s) for s in seen[:-1])
    assert seen[0].startswith("Question 1 of ")
    assert page.locator(".psw-progress").inner_text() == "Your result"
    # patient bubbles show the tapped titles, never payloads; used buttons are disabled but still there
    mine = chat.mine()
    assert "Yes, the diffuse type" in " ".join(mine) and not any("/inform" in m or "/affirm" in m for m in mine)
    assert page.locator(".psw-choices .psw-choice").count() > 10
    assert chat.choices() == ["Change my last answer"]   # after the result, a wrong tap can still be undone
    assert page.locator(".psw-choice.psw-picked").count() >= 10
    # the log is an aria-live region and lists read as lists
    assert page.get_by_role("log").get_attribute("aria-live") == "polite"
    page.screenshot(path="/tmp/widget-desktop-result.png")

    # a likely-eligible result gives its reasons (the criteria met) and what happens next (issue 13, item 2)
    shown = page.locator(".psw-log .psw-result").last.inner_text()
    for words in ("Why:", "You are 18 or older.", "You have been diagnosed with systemic sclerosis.",
                  "What happens next:", "Reference: "):
        assert words in shown, words
    # print view: outcome, reasons, contact and the staff-decide reminder, nothing else
    page.evaluate("() => { window.print = () => { window.__printed = (window.__printed || 0) + 1 } }")
    page.get_by_role("button", name="Print or save my result").click()
    assert page.evaluate("window.__printed") == 1
    page.emulate_media(media="print")
    view = page.locator("#psw-print")
    assert view.is_visible()
    printed = view.inner_text()
    for words in ("you may be able to take part", "300 Pasteur Drive", "study team makes the final decision",
                  server.app.extensions["prescreen_trial"].model.title, "Your answers", "Age in whole years: 54"):
        assert words in printed
    assert re.search(r"Date: [A-Z][a-z]+ \d{1,2}, \d{4}", printed)
    assert page.locator(".psw-panel").is_hidden() and page.locator("main").is_hidden()
    page.screenshot(path="/tmp/widget-print.png", full_page=True)
    page.emulate_media(media="screen")
    assert view.is_hidden() and page.locator(".psw-panel").is_visible()

    sender = chat.state()["sender"]
    assert re.fullmatch(r"[0-9a-f]{32}", sender)
    assert server.app.extensions["prescreen_store"].conversation(sender)["outcome"] == "likely_eligible"
    assert chat.errors == [], chat.errors


def test_whole_conversation_by_typing(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.type("yes")
    assert "How old are you?" in chat.last_bot()
    result = run_to_result(chat, "typing")
    assert "you may be able to take part" in result
    sender = chat.state()["sender"]
    texts = user_texts(server.app, sender)
    assert texts[0] == "/greet" and "54" in texts and "skin getting thicker" in texts
    assert chat.input.input_value() == ""
    assert chat.errors == []


def test_start_over_and_talk_to_a_person(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    chat.type("54")
    assert "Question 2 of " in chat.progress()
    chat.tool("Talk to a person")
    assert "300 Pasteur Drive" in page.locator(".psw-log .psw-bot").all_inner_texts()[-2] + chat.last_bot()
    chat.tool("Start over")
    assert "How old are you?" in chat.last_bot()
    assert chat.progress().startswith("Question 1 of ")
    sender = chat.state()["sender"]
    texts = user_texts(server.app, sender)
    assert texts.count("/restart") == 1 and texts.count("/human") == 1
    assert chat.mine()[-2:] == ["Talk to a person", "Start over"]


def test_reload_mid_conversation_and_continue(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    chat.type("54")
    chat.tap("Yes, the diffuse type")
    before = page.locator(".psw-log .psw-msg").all_inner_texts()
    sender = chat.state()["sender"]
    chat.input.fill("half-typed draft")

    page.reload()
    page.locator(".psw-panel").wait_for(state="visible")  # the panel was open, so it is open again
    assert page.locator(".psw-log .psw-msg").all_inner_texts() == before
    assert "Question 3 of " in chat.progress()
    assert chat.input.input_value() == "half-typed draft"
    chat.input.fill("")
    chat.tap("Yes")
    assert "Question 4 of " in chat.progress()
    assert chat.state()["sender"] == sender

    # a new tab on the same site shows the same conversation and continues it
    other = page.context.new_page()
    tab = Chat(other, server.url).goto()
    other.locator(".psw-panel").wait_for(state="visible")
    assert "Do you have any of these?" in tab.last_bot()
    tab.tap("Skin getting thicker or tighter")
    assert "Question 5 of " in tab.progress()
    features = [t for t in user_texts(server.app, sender) if t.startswith('/inform{"features"')]
    assert features == ['/inform{"features":["skin_worsening"]}']
    # ... and the first tab follows
    page.wait_for_function("() => document.querySelector('.psw-progress').textContent.startsWith('Question 5')")
    # closed panel stays closed after a reload
    page.get_by_role("button", name="Close chat").click()
    page.reload()
    page.locator(".psw-launcher").wait_for(state="visible")
    assert page.locator(".psw-panel").is_hidden()


def test_idle_expiry_after_reload(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    old = chat.state()["sender"]
    page.evaluate("""() => { for (const k of Object.keys(localStorage)) if (k.startsWith('prescreen-widget:')) {
        const s = JSON.parse(localStorage.getItem(k)); s.last -= 31 * 60 * 1000; localStorage.setItem(k, JSON.stringify(s)); } }""")
    page.reload()
    page.locator(".psw-launcher").wait_for(state="visible")
    assert page.locator(".psw-panel").is_hidden()
    assert chat.state() is None
    assert page.locator(".psw-log .psw-msg").count() == 0
    chat.open()
    assert "Shall we start?" in chat.last_bot()
    assert chat.state()["sender"] != old
    assert page.locator(".psw-log .psw-me").count() == 0


def test_idle_expiry_while_the_page_stays_open(server, page):
    url = server.url + "/shared-computer"
    serve_test_page(page, url, server.url, 'data-idle-minutes="0.05"')  # 3 seconds
    page.goto(url)
    chat = Chat(page, server.url)
    chat.open()
    chat.tap("Start")
    assert chat.state() is not None
    page.get_by_text("For your privacy, this chat was cleared. It was not used for 3 seconds.").wait_for(timeout=WAIT)
    assert chat.state() is None
    assert page.locator(".psw-log .psw-bot, .psw-log .psw-me").count() == 0
    assert page.locator(".psw-progress").is_hidden()


def test_end_and_clear(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    chat.type("54")
    old = chat.state()["sender"]
    assert server.app.extensions["prescreen_store"].events(old)
    chat.menu("End and clear")
    page.get_by_role("button", name="Yes, clear everything").click()
    assert chat.state() is None  # removed at once
    assert page.locator(".psw-log .psw-bot, .psw-log .psw-me").count() == 0
    page.get_by_text("This chat has ended. Your answers were cleared from this device and from the study's system."
                     ).wait_for(timeout=WAIT)
    assert server.app.extensions["prescreen_store"].events(old) == []  # and from the study's system
    assert server.app.extensions["prescreen_store"].conversation(old) is None
    page.reload()
    assert chat.state() is None
    assert page.locator(".psw-log .psw-msg").count() == 0
    chat.open()
    assert "Shall we start?" in chat.last_bot()
    new = chat.state()["sender"]
    assert re.fullmatch(r"[0-9a-f]{32}", new) and new != old
    assert user_texts(server.app, new) == ["/greet"]
    # the new conversation goes on without a reload too
    chat.end_and_clear()
    assert server.app.extensions["prescreen_store"].events(new) == []
    page.get_by_role("button", name="Start a new conversation").click()
    chat.wait_reply(0)
    assert chat.state()["sender"] not in (old, new)


def test_delete_my_answers_also_forgets_the_local_copy(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    chat.type("54")
    sender = chat.state()["sender"]
    chat.type("delete my answers")
    page.get_by_role("button", name="Yes, delete them").click()
    page.get_by_text("have been deleted").wait_for(timeout=WAIT)
    assert chat.state() is None
    assert page.locator(".psw-log .psw-bot, .psw-log .psw-me").count() == 0
    assert server.app.extensions["prescreen_store"].events(sender) == []
    page.get_by_role("button", name="Start a new conversation").click()
    chat.wait_reply(0)
    assert chat.state()["sender"] != sender


def test_server_stopped_mid_conversation_then_try_again(tmp_path, page):
    app = strict_app(tmp_path)
    live = PortServer(app)
    port = live.port
    try:
        chat = Chat(page, live.url).goto().open()
        chat.tap("Start")
        sender = chat.state()["sender"]
        live.stop()

        chat.input.fill("54")
        chat.input.press("Enter")
        alert = page.get_by_role("alert")
        alert.get_by_text("could not reach the server").wait_for(timeout=WAIT)
        assert chat.input.input_value() == "54"  # nothing the patient typed is lost
        assert page.locator(".psw-pending .psw-text").inner_text() == "54"
        assert page.locator(".psw-pending .psw-state").inner_text() == "Not sent yet"
        assert chat.state()["pending"]["text"] == "54"

        live = PortServer(app, port)  # the server is back, same address, same database
        before = chat.bot_count()
        alert.get_by_role("button", name="Try again").click()
        chat.wait_reply(before)
        assert "Question 2 of " in chat.progress()
        assert page.locator(".psw-pending").count() == 0
        assert chat.input.input_value() == ""
        assert page.get_by_role("alert").inner_text() == ""
        assert user_texts(app, sender).count("54") == 1
        assert chat.mine().count("54") == 1
    finally:
        live.stop()


def test_answer_lost_after_the_server_saved_it_is_not_doubled(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    ids: list[str] = []

    def lose_first_answer(route):
        ids.append(route.request.post_data_json["metadata"]["message_id"])
        if len(ids) == 1:
            route.fetch()  # the server handles and stores the turn ...
            route.abort("connectionreset")  # ... but the answer never reaches the browser
        else:
            route.continue_()

    page.route(WEBHOOK, lose_first_answer)
    chat.input.fill("54")
    chat.input.press("Enter")
    page.get_by_role("alert").get_by_role("button", name="Try again").wait_for(timeout=WAIT)
    # the unsent message survives a reload, with its message id
    pending = chat.state()["pending"]
    page.reload()
    page.get_by_role("alert").get_by_text("has not been sent yet").wait_for()
    assert page.locator(".psw-pending .psw-text").inner_text() == "54"
    assert chat.input.input_value() == "54"
    assert chat.state()["pending"] == pending
    before = chat.bot_count()
    page.get_by_role("button", name="Try again").click()
    chat.wait_reply(before)
    assert len(ids) == 2 and ids[0] == ids[1]
    assert "Question 2 of " in chat.progress()
    assert user_texts(server.app, chat.state()["sender"]).count("54") == 1


def test_slow_server_429_and_503(server, page):
    url = server.url + "/slow"
    serve_test_page(page, url, server.url, 'data-timeout-ms="1000"')
    page.goto(url)
    chat = Chat(page, server.url)
    chat.open()
    calls: list[dict] = []

    def flaky(route):
        calls.append(route.request.post_data_json)
        n = len(calls)
        if n == 1:  # slow: the server saves the turn, the answer comes after the widget gave up
            response = route.fetch()
            time.sleep(2)
            try:
                route.fulfill(response=response)
            except Exception:
                pass
        elif n == 2:
            route.fulfill(status=429, content_type="application/json", body='{"error": "Too many requests"}')
        elif n == 3:
            route.fulfill(status=503, content_type="application/json",
                          body='{"error": "Sorry, the study server is being updated.", "retry": true}')
        else:
            route.continue_()

    page.route(WEBHOOK, flaky)
    alert = page.get_by_role("alert")
    page.get_by_role("button", name="Start", exact=True).click()
    alert.get_by_text("taking too long").wait_for(timeout=WAIT)
    assert page.locator(".psw-pending .psw-text").inner_text() == "Start"
    alert.get_by_role("button", name="Try again").click()
    alert.get_by_text("Too many messages").wait_for(timeout=WAIT)
    alert.get_by_role("button", name="Try again").click()
    alert.get_by_text("Sorry, the study server is being updated.").wait_for(timeout=WAIT)
    before = chat.bot_count()
    alert.get_by_role("button", name="Try again").click()
    chat.wait_reply(before)
    assert "How old are you?" in chat.last_bot()
    assert len({c["metadata"]["message_id"] for c in calls}) == 1 and len(calls) == 4
    assert user_texts(server.app, chat.state()["sender"]).count("/affirm") == 1
    assert chat.mine() == ["Start"]


def test_phone_360(server, browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        chat = Chat(page, server.url).goto()
        page.screenshot(path="/tmp/widget-phone-page.png")
        box = page.locator(".psw-launcher").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
        chat.open()
        chat.tap("Start")
        chat.type("54")
        chat.tap("Yes, the diffuse type")
        chat.tap("Yes")
        page.screenshot(path="/tmp/widget-phone-question.png")
        _fits(page)
        run_to_result(chat)
        page.screenshot(path="/tmp/widget-phone-result.png")
        _fits(page)
        page.locator(".psw-log").evaluate("e => e.scrollTop = e.scrollHeight")
        page.screenshot(path="/tmp/widget-phone-result-end.png")
        assert page.get_by_role("button", name="Print or save my result").is_visible()
    finally:
        context.close()


def _fits(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    box = page.locator(".psw-panel").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["y"] >= 0 and box["y"] + box["height"] <= 740
    assert page.locator(".psw-log").evaluate("e => e.scrollWidth <= e.clientWidth")
    page.get_by_role("button", name="Menu", exact=True).click()
    for name in ("Start over", "Talk to a person", "End and clear", "Menu", "Close chat", "Send"):
        b = page.get_by_role("button", name=name, exact=True).bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= 360, name
    page.keyboard.press("Escape")


def test_desktop_screenshot(server, page):
    chat = Chat(page, server.url).goto()
    page.screenshot(path="/tmp/widget-desktop-page.png")
    chat.open()
    chat.tap("Start")
    chat.type("54")
    chat.tap("Yes, the diffuse type")
    page.screenshot(path="/tmp/widget-desktop-question.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    dots = page.locator(".psw-dots")
    assert dots.evaluate("e => getComputedStyle(e).animationName") == "psw-blink"
    page.emulate_media(reduced_motion="reduce")
    assert dots.evaluate("e => getComputedStyle(e).animationName") == "none"


def _focused(page) -> str:
    return page.evaluate("() => { const a = document.activeElement; return a ? (a.getAttribute('aria-label') || a.textContent || a.id || a.tagName) : '' }")


def _tab_to(page, name: str, key: str = "Tab", limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press(key)
        if _focused(page).strip() == name:
            return
    raise AssertionError(f"could not reach {name!r} with {key}")


def test_keyboard_only(server, page):
    chat = Chat(page, server.url).goto()
    _tab_to(page, "Chat: is this study for me?")
    focus_style = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert focus_style != "none"  # visible focus
    page.keyboard.press("Enter")
    chat.wait_reply(0)
    assert _focused(page) == "Start"  # the first choice of the new question has the focus
    before = chat.bot_count()
    page.keyboard.press("Space")
    chat.wait_reply(before)
    assert page.evaluate("document.activeElement.id") == "psw-input"
    page.keyboard.type("54")
    before = chat.bot_count()
    page.keyboard.press("Enter")
    chat.wait_reply(before)
    for _ in range(40):
        text = chat.last_bot()
        if chat.result_text():
            break
        choice = button_answer(text, chat.choices())
        in_input = page.evaluate("document.activeElement.id") == "psw-input"
        if choice:
            if _focused(page) != choice:
                _tab_to(page, choice, "Shift+Tab" if in_input else "Tab")
            if page.evaluate("document.activeElement.hasAttribute('aria-pressed')"):  # one of several answers
                page.keyboard.press("Space")
                assert page.evaluate("document.activeElement.getAttribute('aria-pressed')") == "true"
                _tab_to(page, "Done")
        else:
            assert in_input  # a question without buttons puts the focus in the text box
            page.keyboard.type(typed_answer(text))
        before = chat.bot_count()
        page.keyboard.press("Enter")
        chat.wait_reply(before)
    assert chat.result_text()
    # Escape closes the panel and gives the focus back to the launcher
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Escape")
    assert page.locator(".psw-panel").is_hidden()
    assert _focused(page) == "Chat: is this study for me?"
    page.keyboard.press("Enter")
    assert page.locator(".psw-panel").is_visible()
    assert chat.errors == []


def test_patient_html_is_shown_as_text(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.type(XSS)
    page.wait_for_timeout(300)
    assert chat.dialogs == []
    log = page.get_by_role("log")
    assert log.locator("img").count() == 0
    assert XSS in log.inner_text()
    assert XSS in user_texts(server.app, chat.state()["sender"])

    # the bot's words and button titles are text too, whatever the server sends
    def evil(route):
        route.fulfill(status=200, content_type="application/json", body=(
            '[{"recipient_id": "x", "text": "<b>bold</b> <img src=x onerror=alert(2)>\\n- item <script>alert(3)</script>",'
            ' "buttons": [{"title": "<img src=y onerror=alert(4)>", "payload": "/affirm"}]}]'))

    page.route(WEBHOOK, evil)
    chat.type("hello")
    page.wait_for_timeout(300)
    assert chat.dialogs == []
    assert log.locator("img, b, script").count() == 0
    assert "<b>bold</b> <img src=x onerror=alert(2)>" in log.inner_text()
    assert log.get_by_role("button", name="<img src=y onerror=alert(4)>").count() == 1
    assert log.locator("li").last.inner_text() == "item <script>alert(3)</script>"


@pytest.fixture()
def embedding(tmp_path, browser):
    """A partner page on another origin (its own server and port) that embeds the widget.

    Call it with allowed=True to list the partner's origin in ALLOWED_ORIGINS.
    The partner page has its own strict CSP that names the widget's server.
    """
    closers: list = []

    def make(allowed: bool, on_page=None):
        target = {"url": ""}

        def partner(environ, start_response):
            url = target["url"]
            csp = f"default-src 'self'; script-src {url}; style-src {url}; connect-src {url}; img-src 'self' data:"
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Security-Policy", csp)])
            return [embed_page(url).encode()]

        site = LiveServer(partner)
        closers.append(site.stop)
        app = strict_app(tmp_path, ALLOWED_ORIGINS=site.url if allowed else "http://127.0.0.1:1")
        live = LiveServer(app)
        closers.append(live.stop)
        target["url"] = live.url
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        closers.append(context.close)
        page = context.new_page()
        if on_page:
            on_page(page)
        chat = Chat(page, site.url).goto()
        if allowed:
            page.get_by_role("button", name=re.compile("Chat")).click()
        return app, page, chat

    yield make
    for close in reversed(closers):
        close()


def test_embedding_on_an_allowed_origin_works(embedding):
    app, page, chat = embedding(allowed=True)
    chat.wait_reply(0)
    assert "Shall we start?" in chat.last_bot()
    chat.tap("Start")
    assert "How old are you?" in chat.last_bot()
    assert page.evaluate("location.origin") == chat.url  # the page is on the partner's origin
    assert user_texts(app, chat.state()["sender"]) == ["/greet", "/affirm"]
    assert page.locator(".psw-panel").evaluate("e => getComputedStyle(e).position") == "fixed"  # CSS loaded


def test_embedding_on_another_origin_is_refused(embedding):
    """The browser refuses the widget's texts from the study's server: a short built-in error, nothing sent."""
    posts: list[str] = []
    _, page, chat = embedding(allowed=False, on_page=lambda p: p.on(
        "request", lambda r: posts.append(r.url) if r.method == "POST" else None))
    page.get_by_role("alert").get_by_text("the chat could not load").wait_for(timeout=WAIT)
    assert page.locator(".psw-launcher").count() == 1 and page.locator(".psw-panel").count() == 0
    assert page.get_by_role("button").count() == 0
    assert posts == [] and chat.state() is None  # nothing reached the study's server


def test_today_is_sent_only_when_the_page_asks(server, page):
    bodies: list[dict] = []
    page.on("request", lambda r: bodies.append(r.post_data_json) if r.method == "POST" else None)
    chat = Chat(page, server.url).goto().open()
    assert bodies and "today" not in bodies[-1]["metadata"]
    assert re.fullmatch(r"[0-9a-f]{32}", bodies[-1]["metadata"]["message_id"])
    chat.end_and_clear()
    url = server.url + "/pinned"
    serve_test_page(page, url, server.url, 'data-today="2026-03-01"')
    page.goto(url)
    chat.open()
    assert bodies[-1]["metadata"]["today"] == "2026-03-01"
    assert bodies[-1]["metadata"]["message_id"] != bodies[0]["metadata"]["message_id"]


def test_axe_finds_no_violations(server, page):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    chat = Chat(page, server.url).goto()
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()
    chat.open()
    chat.tap("Start")
    chat.type("54")
    chat.tap("Yes, the diffuse type")
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()
    run_to_result(chat)
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()
    # with an error and a pending message on show
    page.route(WEBHOOK, lambda route: route.abort())
    chat.input.fill("hello")
    chat.input.press("Enter")
    page.get_by_role("button", name="Try again").wait_for(timeout=WAIT)
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()
    # on a phone
    page.set_viewport_size({"width": 360, "height": 740})
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()


def test_the_message_box_takes_its_limit_from_the_server(tmp_path, page):
    """PRESCREEN_MAX_MESSAGE_LENGTH reaches the widget inside /widget.js: one setting, two ends."""
    live = LiveServer(strict_app(tmp_path, MAX_MESSAGE_LENGTH=120))
    try:
        chat = Chat(page, live.url).goto().open()
        assert chat.input.evaluate("el => el.maxLength") == 120
        chat.input.fill("x" * 300)
        assert len(chat.input.input_value()) == 120
    finally:
        live.stop()


def test_a_wrong_tap_is_undone_with_change_my_last_answer(server, page):
    """Issue 12: one mistaken tap on "No" to the diagnosis ends the prescreen; one tap takes it back."""
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    chat.type("54")
    chat.tap("No")
    # the review shows which answer rules the person out, before any result
    assert "Here is what you told me" in chat.last_bot() and "could not take part" in chat.last_bot()
    assert chat.progress() == "Check your answers"
    page.screenshot(path="/tmp/widget-review.png")
    chat.tap("That's right, show my result")
    assert chat.result_text() and "not likely to be able to take part" in chat.result_text()
    chat.tap("Change my last answer")
    assert "systemic sclerosis" in chat.last_bot()
    chat.tap("Yes, the diffuse type")
    assert "tried other treatment" in chat.last_bot()
    assert "Change my last answer" in chat.choices()   # during the questions it is always there
    page.screenshot(path="/tmp/widget-change-answer.png")


def test_a_typed_no_to_an_echoed_question_is_not_an_exclusion(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    chat.type("54")
    chat.tap("Yes, the diffuse type")
    chat.tap("Yes")
    chat.tap("Skin getting thicker or tighter")
    chat.tap("None of these")
    assert "HIV" in chat.last_bot()
    chat.type("HIV?? nah none")
    assert "hepatitis B" in chat.last_bot() and not chat.result_text()


# -- issue 13: a 68-year-old on a phone, or with a screen reader ---------------------------------

def _criteria_copy(tmp_path, **changes):
    """criteria.yaml with some top-level fields changed, written into tmp_path."""
    import yaml
    data = yaml.safe_load((ROOT / "criteria.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / "criteria-copy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_not_recruiting_is_said_before_start(tmp_path, page):
    notice = "This study has paused. It is not taking new people now."
    translated = {"en": notice, "es": "Este estudio está en pausa. No acepta personas nuevas ahora."}
    live = LiveServer(strict_app(tmp_path, CRITERIA=str(_criteria_copy(tmp_path, status="not_recruiting",
                                                                      status_notice=translated))))
    try:
        chat = Chat(page, live.url).goto().open()
        status = page.locator(".psw-log").get_by_role("status")
        assert status.is_visible()
        # said once: by the server's message before the greeting if it sends one, else by the widget
        assert status.count() == 1 and page.locator(".psw-log").inner_text().count(notice) == 1
        said = status.inner_text().removeprefix("Assistant:").strip()
        assert said.startswith(notice) and "You can still" in said
        # before the greeting and its Start button, in reading order and on the screen
        order = page.evaluate("""() => { const s = document.querySelector('.psw-log [role=status]');
            const b = [...document.querySelectorAll('.psw-log button')].find(x => x.textContent === 'Start');
            return [s.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING,
                    s.getBoundingClientRect().bottom <= b.getBoundingClientRect().top] }""")
        assert order == [4, True]   # Node.DOCUMENT_POSITION_FOLLOWING: the Start button comes after it
        assert page.locator(".psw-log").evaluate("e => e.scrollTop") == 0   # the notice is on show
        assert chat.state()["items"] and not any(i.get("w") == "me" for i in chat.state()["items"])
        # ... and the patient can still go on
        chat.tap("Start")
        assert "How old are you?" in chat.last_bot()
        assert status.count() == 1 and page.locator(".psw-log > *").first.get_attribute("role") == "status"
    finally:
        live.stop()

    # a server that does not say it: the widget does, from /widget/texts
    page.route(WEBHOOK, lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps([
        {"recipient_id": "x", "text": "Hello!\n\nShall we start?", "buttons": [{"title": "Start", "payload": "/affirm"}]}])))
    live = LiveServer(strict_app(tmp_path, CRITERIA=str(_criteria_copy(tmp_path, status="not_recruiting",
                                                                      status_notice=translated))))
    try:
        page.evaluate("localStorage.clear()")
        Chat(page, live.url).goto().open()
        status = page.locator(".psw-log").get_by_role("status")
        assert status.count() == 1
        assert status.locator("p").all_inner_texts() == [notice, "You can still answer the questions to see how they fit you."]
        assert page.locator(".psw-log > *").first.get_attribute("role") == "status"
    finally:
        live.stop()
        page.unroute(WEBHOOK)

    # a recruiting study says nothing of the kind
    other = tmp_path / "recruiting"
    other.mkdir()
    live = LiveServer(strict_app(other, CRITERIA=str(_criteria_copy(other, status="recruiting", status_notice=""))))
    try:
        chat = Chat(page, live.url).goto().open()
        assert page.locator(".psw-log [role=status]").count() == 0
        assert "not recruiting" not in page.locator(".psw-log").inner_text()
    finally:
        live.stop()


def test_end_and_clear_asks_first(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    chat.type("54")
    sender = chat.state()["sender"]
    store = server.app.extensions["prescreen_store"]
    menu = page.get_by_role("button", name="Menu", exact=True)

    # by keyboard: the menu opens on its first item; the question takes the focus and keeps it
    menu.focus()
    page.keyboard.press("Enter")
    assert _focused(page) == "Talk to a person"
    _tab_to(page, "End and clear")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("alertdialog", name="Clear your answers?")
    assert dialog.is_visible()
    assert "your answers on this device and in the study's system" in dialog.inner_text()
    assert _focused(page) == "No, keep my answers"   # the safe answer first
    for key in ("Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"):
        page.keyboard.press(key)
        assert page.evaluate("document.activeElement.closest('[role=alertdialog]') !== null"), key
    assert page.locator(".psw-log").evaluate("e => e.inert")   # the rest of the panel waits
    page.keyboard.press("Escape")                              # Escape is "No"
    assert dialog.is_hidden() and page.locator(".psw-panel").is_visible()
    assert _focused(page) == "Menu"

    # No, keep my answers: nothing changes
    chat.menu("End and clear")
    page.get_by_role("button", name="No, keep my answers").click()
    assert dialog.is_hidden() and chat.state()["sender"] == sender
    assert "How old are you?" in page.locator(".psw-log").inner_text() and chat.mine() == ["Start", "54"]
    assert store.events(sender)
    assert not page.locator(".psw-log").evaluate("e => e.inert")
    chat.tap("Yes, the diffuse type")   # the conversation goes on

    # Yes, clear everything: gone here and in the study's system
    chat.menu("End and clear")
    page.get_by_role("button", name="Yes, clear everything").click()
    assert chat.state() is None
    page.get_by_text("cleared from this device and from the study's system").wait_for(timeout=WAIT)
    assert store.events(sender) == [] and store.conversation(sender) is None
    assert _focused(page) == "Start a new conversation"
    assert chat.errors == []


def test_end_and_clear_when_the_study_cannot_be_reached(server, page):
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    sender = chat.state()["sender"]
    page.route(WEBHOOK, lambda route: route.abort())
    chat.menu("End and clear")
    page.get_by_role("button", name="Yes, clear everything").click()
    page.get_by_text("We could not reach the study's system").wait_for(timeout=WAIT)
    assert chat.state() is None   # this device forgot it at once
    assert server.app.extensions["prescreen_store"].events(sender)
    page.unroute(WEBHOOK)
    page.locator(".psw-note").get_by_role("button", name="Try again").click()
    page.get_by_text("cleared from this device and from the study's system").wait_for(timeout=WAIT)
    assert server.app.extensions["prescreen_store"].events(sender) == []


def test_idle_warning_and_keep_going(server, page):
    url = server.url + "/idle"
    serve_test_page(page, url, server.url, 'data-idle-minutes="0.2"')  # 12 s: the warning comes after 6 s
    page.goto(url)
    chat = Chat(page, server.url)
    chat.open()
    chat.tap("Start")
    sender = chat.state()["sender"]
    started = time.monotonic()
    warning = page.get_by_role("alert").filter(has_text="Are you still there?")
    warning.wait_for(timeout=WAIT)
    waited = time.monotonic() - started
    assert 4 <= waited <= 9, waited
    assert warning.inner_text().startswith(
        "Are you still there? Your answers will be cleared in 6 seconds for your privacy.")
    keep = warning.get_by_role("button", name="Keep going")
    assert _focused(page) == "Keep going"
    keep.click()
    assert warning.count() == 0
    assert chat.state()["sender"] == sender    # the timer started again: nothing was cleared
    assert _focused(page) != "Keep going"
    # left alone again: warned, then cleared
    warning.wait_for(timeout=WAIT)
    page.get_by_text("For your privacy, this chat was cleared.").wait_for(timeout=WAIT)
    assert chat.state() is None and page.get_by_role("alert").filter(has_text="Are you still there?").count() == 0


def test_idle_warning_two_minutes_before_a_longer_expiry(server, page):
    """30 minutes (the default): the warning at 28; "2 minutes" in its words."""
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    page.evaluate("""() => { for (const k of Object.keys(localStorage)) if (k.startsWith('prescreen-widget:')) {
        const s = JSON.parse(localStorage.getItem(k)); s.last -= 27.5 * 60 * 1000; localStorage.setItem(k, JSON.stringify(s)); } }""")
    page.reload()
    page.locator(".psw-panel").wait_for(state="visible")
    page.wait_for_timeout(500)
    assert page.get_by_text("Are you still there?").count() == 0   # 2.5 minutes left: not yet
    page.evaluate("""() => { for (const k of Object.keys(localStorage)) if (k.startsWith('prescreen-widget:')) {
        const s = JSON.parse(localStorage.getItem(k)); s.last -= 60 * 1000; localStorage.setItem(k, JSON.stringify(s)); } }""")
    page.reload()
    page.get_by_role("alert").get_by_text(
        "Are you still there? Your answers will be cleared in 2 minutes for your privacy.").wait_for(timeout=WAIT)


def test_several_answers_with_done(server, page):
    """"Any of these": each option is a toggle; Done sends every picked id in one message."""
    chat = Chat(page, server.url).goto().open()
    chat.tap("Start")
    chat.type("54")
    chat.tap("Yes, the diffuse type")
    chat.tap("Yes")
    assert "any of these" in chat.last_bot().lower()
    log = page.locator(".psw-log")
    skin = log.get_by_role("button", name="Skin getting thicker or tighter")
    lungs = log.get_by_role("button", name="Scarring of the lungs (ILD)")
    sores = log.get_by_role("button", name="Sores on fingers or toes")
    done = log.get_by_role("button", name="Done")
    assert skin.get_attribute("aria-pressed") == "false" and done.is_disabled()
    assert "Tap all that apply" in log.inner_text()
    for single in ("None of these", "Not sure"):   # still single taps
        assert log.get_by_role("button", name=single, exact=True).last.get_attribute("aria-pressed") is None
    skin.click()
    sores.click()
    lungs.click()
    lungs.click()   # a second tap takes it back
    assert [b.get_attribute("aria-pressed") for b in (skin, lungs, sores)] == ["true", "false", "true"]
    assert done.is_enabled()
    # the picks survive a reload
    page.reload()
    page.locator(".psw-panel").wait_for(state="visible")
    assert skin.get_attribute("aria-pressed") == "true" and sores.get_attribute("aria-pressed") == "true"
    before = chat.bot_count()
    done.click()
    chat.wait_reply(before)
    assert chat.mine()[-1] == "Skin getting thicker or tighter, Sores on fingers or toes"
    texts = user_texts(server.app, chat.state()["sender"])
    assert texts[-1] == '/inform{"features":["skin_worsening","digital_ulcers"]}'
    assert "Question 5 of " in chat.progress()
    # afterwards the picks show as picked, and nothing can be tapped again
    assert skin.is_disabled() and "psw-picked" in (skin.get_attribute("class") or "")
    assert "psw-picked" not in (lungs.get_attribute("class") or "")
    # "None of these" is one tap on the next grouped question
    chat.tap("None of these")
    assert user_texts(server.app, chat.state()["sender"])[-1] == '/inform{"heart":[]}'
    assert chat.errors == []


def test_several_answers_contract(server, page):
    """The widget's side of the contract, whatever the trial: one-id lists are toggles, Done sends them all."""
    sent: list[str] = []

    def fake(route):
        body = route.request.post_data_json
        sent.append(body["message"])
        if body["message"] == "/greet":
            route.fulfill(status=200, content_type="application/json", body=json.dumps([{
                "recipient_id": "x", "text": "Question 2 of 9\nDo you have any of these?",
                "buttons": [{"title": "Red", "payload": '/inform{"q":["red"]}'},
                            {"title": "Green", "payload": '/inform{"q":["green"]}'},
                            {"title": "Blue", "payload": '/inform{"q":["blue"]}'},
                            {"title": "None of these", "payload": '/inform{"q":[]}'},
                            {"title": "Not sure", "payload": '/inform{"q":"Not sure"}'},
                            {"title": "Change my last answer", "payload": "/go_back"}],
                "custom": {"question": {"id": "q", "type": "multi", "step": 2, "total": 9}}}]))
        else:
            route.fulfill(status=200, content_type="application/json", body='[{"recipient_id": "x", "text": "Thanks."}]')

    page.route(WEBHOOK, fake)
    chat = Chat(page, server.url).goto().open()
    assert chat.progress() == "Question 2 of 9"
    choices = page.locator(".psw-choices").last
    assert [b.get_attribute("aria-pressed") for b in choices.get_by_role("button").all()] == \
        ["false", "false", "false", None, None, None, None]
    assert choices.get_by_role("button").nth(3).inner_text() == "Done"
    # the secondary "Change my last answer" comes last, under the answers
    aside = choices.get_by_role("button", name="Change my last answer").bounding_box()
    assert all(aside["y"] >= b.bounding_box()["y"] + b.bounding_box()["height"] for b in choices.get_by_role("button").all()[:-1])
    choices.get_by_role("button", name="Blue").click()
    choices.get_by_role("button", name="Red").click()
    before = chat.bot_count()
    choices.get_by_role("button", name="Done").click()
    chat.wait_reply(before)
    assert sent[-1] == '/inform{"q":["red","blue"]}'       # in the order shown
    assert chat.mine() == ["Red, Blue"]


def test_question_counter_and_paragraphs(server, page):
    """"Question N of M" from custom.question; blank lines make paragraphs, the emergency line its own."""
    greeting = ("Hello! I ask a few short questions.\n\nThis is not medical advice.\n\n"
                "If you have a medical emergency, call 911 now.\n\nShall we start?")

    def fake(route):
        route.fulfill(status=200, content_type="application/json", body=json.dumps([
            {"recipient_id": "x", "text": greeting, "buttons": [{"title": "Start", "payload": "/affirm"}]},
            {"recipient_id": "x", "text": "Question 3 of 12\nHow old are you?",
             "custom": {"question": {"id": "age", "type": "age", "step": 3, "total": 12}}}]))

    page.route(WEBHOOK, fake)
    Chat(page, server.url).goto().open()
    paragraphs = page.locator(".psw-log .psw-bot").first.locator(".psw-text p").all_inner_texts()
    assert paragraphs == ["Hello! I ask a few short questions.", "This is not medical advice.",
                          "If you have a medical emergency, call 911 now.", "Shall we start?"]
    assert page.locator(".psw-progress").inner_text() == "Question 3 of 12"
    # the header shows the counter, so the question's bubble does not say it again
    assert page.locator(".psw-log .psw-bot").last.locator(".psw-text").inner_text() == "How old are you?"


def test_printable_result_with_reference_and_date(tmp_path, page):
    live = LiveServer(strict_app(tmp_path))
    try:
        url = live.url + "/dated"
        serve_test_page(page, url, live.url, 'data-today="2027-02-28"')
        page.goto(url)
        chat = Chat(page, live.url)
        chat.open()
        chat.tap("Start")
        run_to_result(chat)
        result = next(i["r"] for i in chat.state()["items"] if i.get("r"))
        reference = result.get("reference")
        assert reference and re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}", reference), result
        assert result["today"] == "2027-02-28"
        page.evaluate("() => { window.print = () => { window.__printed = (window.__printed || 0) + 1 } }")
        page.get_by_role("button", name="Print or save my result").click()
        page.emulate_media(media="print")
        view = page.locator("#psw-print")
        printed = view.inner_text()
        lines = [line.strip() for line in printed.splitlines() if line.strip()]
        assert lines[0] == "Your prescreen result"
        assert lines[1] == live.app.extensions["prescreen_trial"].model.title
        assert f"Reference: {reference}" in lines[2] and "Date: February 28, 2027" in printed
        assert printed.count(f"Reference: {reference}") == 1   # once, at the top
        answers = view.locator(".psw-print-answers li").all_inner_texts()
        assert answers[0] == "Age in whole years: 54" and len(answers) >= 10
        assert "you may be able to take part" in printed and "Why:" in printed
        assert "300 Pasteur Drive" in printed and "Study contact for" in printed
        assert printed.index("Your answers") < printed.index("Your result") < printed.index("300 Pasteur Drive")
        assert page.evaluate("window.__printed") == 1
    finally:
        live.stop()


def test_the_widget_speaks_with_the_servers_words(server, page):
    """Every text comes from /widget/texts: change one there, and the widget shows the change."""
    def changed(route):
        response = route.fetch()
        body = response.json()
        body["texts"]["launcher"] = "Chat: could this study suit me?"
        body["texts"]["send"] = "Send it"
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/widget/texts*", changed)
    chat = Chat(page, server.url).goto()
    assert page.get_by_role("button", name=re.compile("^Chat")).inner_text() == "Chat: could this study suit me?"
    chat.open()
    assert page.locator(".psw-send").inner_text() == "Send it"
    assert page.locator(".psw").get_attribute("lang") == "en"


def test_without_its_texts_the_widget_shows_one_short_error(server, page):
    page.route("**/widget/texts*", lambda route: route.fulfill(status=500, body="no"))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(server.url)
    page.get_by_role("alert").get_by_text("Sorry, the chat could not load. Please try again later.").wait_for()
    assert page.locator(".psw button").count() == 0 and posts == []


def test_axe_on_the_menu_the_question_and_the_warning(server, page):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    url = server.url + "/axe"
    serve_test_page(page, url, server.url, 'data-idle-minutes="0.2"')
    page.goto(url)
    chat = Chat(page, server.url)
    chat.open()
    results = axe.run(page)   # the panel, with the not-recruiting notice before Start
    assert results.violations_count == 0, results.generate_report()
    page.get_by_role("button", name="Menu", exact=True).click()
    results = axe.run(page)   # the menu open
    assert results.violations_count == 0, results.generate_report()
    page.get_by_role("button", name="End and clear", exact=True).click()
    results = axe.run(page)   # the confirmation
    assert results.violations_count == 0, results.generate_report()
    page.get_by_role("button", name="No, keep my answers").click()
    chat.tap("Start")
    chat.type("54")
    chat.tap("Yes, the diffuse type")
    chat.tap("Yes")
    page.locator(".psw-log").get_by_role("button", name="Sores on fingers or toes").click()
    results = axe.run(page)   # several answers, one picked
    assert results.violations_count == 0, results.generate_report()
    page.get_by_role("alert").filter(has_text="Are you still there?").wait_for(timeout=WAIT)
    results = axe.run(page)   # the idle warning
    assert results.violations_count == 0, results.generate_report()
