"""The widget in a real browser (headless Debian Chromium via Playwright).

Every page the app serves here carries the production Content-Security-Policy,
so an inline script or style in the widget would break these tests.
"""

from __future__ import annotations

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
    app, page, chat = embedding(allowed=False, on_page=lambda p: p.on(
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
