"""The widget in Spanish (issue 15), in a real browser (headless Debian Chromium via Playwright).

How the widget picks its language (data-lang, else the page's <html lang>, else the browser's;
English otherwise), keeps it with the conversation, switches it from its menu or when a reply
carries custom.language, sends it with every message (metadata.language), and speaks it in every
word of its own (texts/es.yml): labels, errors, the idle warning, dates and the printout. Then two
whole prescreens in Spanish, by taps and by typing, against the real bot: the same questions, the
same outcome and the same date as in English. Screenshots of the Spanish panel go where
tests/test_widget_layout.py puts its own (PRESCREEN_SCREENSHOTS), named es-*.png.

The Spanish words are read from bot/widget/texts/es.yml, so a changed translation does not break
these tests; a text missing from es.yml (shown in English) does.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
import uuid
from pathlib import Path

import pytest

from browserkit import ROOT, LiveServer, browser
from bot.widget import texts_for
from test_widget_browser import CSP, EMBED, WAIT, WEBHOOK, Chat, button_answer, strict_app, typed_answer, user_texts
from test_widget_layout import SIZES, _gaps_in_place, _panel_shot, check_layout

__all__ = ["browser"]   # the fixture, from tests/browserkit.py

pytestmark = pytest.mark.browser

EN = texts_for("en")["texts"]
ES = texts_for("es")["texts"]
TODAY = "2026-11-25"            # tests/chatkit.py's day: rituximab on 2026-08-31 + 6 months = 2027-02-28
RITUXIMAB = "2026-08-31"
SWITCH = '/switch_language{"language":"%s"}'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(strict_app(tmp_path_factory.mktemp("spanish")))
    yield live
    live.stop()


@pytest.fixture()
def context(browser):
    """A desktop browser whose language is English (the tests say when it is Spanish)."""
    made = []

    def make(locale: str = "en-US", **options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        made.append(browser.new_context(locale=locale, **options))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("PRESCREEN_SCREENSHOTS")
    path = (ROOT / folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_study_offers_spanish(server):
    """The rest of this file needs it: the criteria file offers es and the widget has es.yml."""
    assert "es" in server.app.extensions["prescreen_trial"].languages
    js = urllib.request.urlopen(server.url + "/widget.js").read().decode()
    assert '"langs": ["en", "es"]' in js
    # es.yml has its own words for every text (a missing one would fall back to English unseen)
    import yaml
    own = yaml.safe_load((ROOT / "bot" / "widget" / "texts" / "es.yml").read_text(encoding="utf-8"))["texts"]
    assert set(own) == set(EN)
    assert [k for k in EN if own[k] == EN[k]] == ["lang_en", "lang_es"]   # each language's name is its own
    assert (EN["lang_en"], EN["lang_es"]) == ("English", "Español")


# -- pages ----------------------------------------------------------------------------------------

_pages = iter(range(10**6))


def serve_page(page, server, attrs: str = "", html_lang: str | None = "en") -> str:
    """Serve a page on the app's own origin that embeds the widget; `html_lang` None: no <html lang>."""
    html = EMBED.replace("%SERVER%", server.url).replace("%ATTRS%", attrs)
    html = html.replace('<html lang="en">', f'<html lang="{html_lang}">' if html_lang else "<html>")
    url = f"{server.url}/page-{next(_pages)}"
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html,
                                                headers={"Content-Security-Policy": CSP}))
    page.goto(url)
    page.locator(".psw-launcher").wait_for(state="attached")
    return url




class Wire:
    """Every message the widget sends and every reply it gets, on the way (the real server answers)."""

    def __init__(self, page) -> None:
        self.sent: list[dict] = []
        self.replies: list[list[dict]] = []
        page.route(WEBHOOK, self._pass)

    def _pass(self, route) -> None:
        self.sent.append(route.request.post_data_json)
        response = route.fetch()
        self.replies.append(response.json())
        route.fulfill(response=response)

    def messages(self) -> list[str]:
        return [b["message"] for b in self.sent]

    def languages(self) -> list[str]:
        return [b["metadata"].get("language") for b in self.sent]


class Widget(Chat):
    """The patient's side of the widget, in whichever language it speaks (the texts of `lang`)."""

    def __init__(self, page, url: str, lang: str = "es") -> None:
        super().__init__(page, url)
        self.use(lang)

    def use(self, lang: str) -> None:
        self.x = ES if lang == "es" else EN
        self.input = self.page.get_by_label(self.x["input_label"], exact=True)

    def open(self) -> "Widget":
        before = self.bot_count()
        self.page.get_by_role("button", name=self.x["launcher"], exact=True).click()
        self.wait_reply(before)
        return self

    def menu(self, name: str) -> None:
        menu = self.page.get_by_role("button", name=self.x["menu"], exact=True)
        if menu.get_attribute("aria-expanded") != "true":
            menu.click()
        self.page.get_by_role("button", name=name, exact=True).click()

    def switch(self, lang: str) -> None:
        """Tap the language's own name in the menu; returns once the widget speaks it."""
        self.menu(EN["lang_" + lang])
        self.page.wait_for_function("l => document.querySelector('.psw').lang === l", arg=lang, timeout=WAIT)
        self.use(lang)

    def lang(self) -> str:
        return self.page.locator(".psw").get_attribute("lang")

    def tap_payload(self, payload: str) -> str:
        """Tap the button of the latest question that sends `payload` (a toggle: it, then Done); its title."""
        item = next(i for i in reversed(self.state()["items"]) if i.get("b"))
        title = next(b["title"] for b in item["b"] if b["payload"] == payload)
        group = self.page.locator(".psw-log .psw-choices").last
        before = self.bot_count()
        button = group.get_by_role("button", name=title, exact=True)
        toggle = button.get_attribute("aria-pressed") is not None
        button.click()
        if toggle:
            group.get_by_role("button", name=self.x["done"], exact=True).click()
        self.wait_reply(before)
        return title

    def send_text(self, text: str) -> None:
        before = self.bot_count()
        self.input.fill(text)
        self.input.press("Enter")
        self.wait_reply(before)


def _visible_texts(page) -> dict[str, str]:
    """The widget's own words on show in the open panel (not the bot's)."""
    return page.evaluate("""() => ({
        region: document.querySelector('.psw').getAttribute('aria-label'),
        send: document.querySelector('.psw-send').textContent,
        hint: document.querySelector('.psw-input').placeholder,
        label: document.querySelector('label[for=psw-input]').textContent,
        menu: document.querySelector('.psw-menu-btn').textContent,
        close: document.querySelector('.psw-close').getAttribute('aria-label'),
        log: document.querySelector('.psw-log').getAttribute('aria-label'),
        choices: (document.querySelector('.psw-choices') || {getAttribute: () => null}).getAttribute('aria-label'),
        said: document.querySelector('.psw-log .psw-sr').textContent.trim(),
    })""")


def _expected(x: dict) -> dict[str, str]:
    return {"region": x["region"], "send": x["send"], "hint": x["input_hint"], "label": x["input_label"],
            "menu": x["menu"], "close": x["close"], "log": x["log"], "choices": x["choices"],
            "said": x["assistant_said"]}


# -- the language: picked, switched, kept, sent ------------------------------------------------

def test_a_spanish_browser_opens_the_widget_in_spanish(server, context):
    spanish = context("es-US").new_page()
    assert spanish.evaluate("navigator.language") == "es-US"
    # the page says nothing of its language: the browser's decides
    serve_page(spanish, server, html_lang=None)
    wire = Wire(spanish)
    chat = Widget(spanish, server.url, "es")
    assert spanish.locator(".psw-launcher").inner_text() == ES["launcher"]
    assert chat.lang() == "es"
    chat.open()
    assert _visible_texts(spanish) == _expected(ES)
    assert wire.sent[0]["message"] == "/greet" and wire.sent[0]["metadata"]["language"] == "es"
    assert chat.state()["lang"] == "es"

    # data-lang wins over the browser's language; the page's <html lang> too
    english = context("es-US").new_page()
    serve_page(english, server, 'data-lang="en"', html_lang=None)
    assert english.locator(".psw-launcher").inner_text() == EN["launcher"]
    english = context("es-US").new_page()
    serve_page(english, server, html_lang="en")
    assert english.locator(".psw-launcher").inner_text() == EN["launcher"]
    # a Spanish page, a data-lang="es-MX" tag: Spanish for an English browser
    for attrs, html_lang in (("", "es"), ('data-lang="es-MX"', "en")):
        page = context("en-US").new_page()
        serve_page(page, server, attrs, html_lang=html_lang)
        assert page.locator(".psw-launcher").inner_text() == ES["launcher"], (attrs, html_lang)
    # languages the study does not offer: English
    for locale in ("fr-FR", "en-GB"):
        page = context(locale).new_page()
        serve_page(page, server, html_lang=None)
        assert page.locator(".psw-launcher").inner_text() == EN["launcher"], locale
        assert page.locator(".psw").get_attribute("lang") == "en"
    page = context("en-US").new_page()
    serve_page(page, server, 'data-lang="fr"', html_lang="de")
    assert page.locator(".psw").get_attribute("lang") == "en"
    assert chat.errors == []


def test_the_switch_changes_the_texts_and_the_language_sent(server, context):
    page = context().new_page()
    texts_asked: list[str] = []
    page.on("request", lambda r: texts_asked.append(r.url.split("?", 1)[1]) if "/widget/texts" in r.url else None)
    serve_page(page, server)
    wire = Wire(page)
    chat = Widget(page, server.url, "en").open()
    assert texts_asked == ["lang=en"]
    start = chat.tap_payload("/affirm")    # Start
    chat.send_text("54")
    assert _visible_texts(page) == _expected(EN)

    # the switch: in the menu, both names in their own language, the one in use pressed
    page.get_by_role("button", name=EN["menu"], exact=True).click()
    group = page.get_by_role("group", name=EN["language_switch"], exact=True)
    assert group.is_visible()
    buttons = group.get_by_role("button")
    assert buttons.all_inner_texts() == ["English", "Español"]
    assert [b.get_attribute("lang") for b in buttons.all()] == ["en", "es"]
    assert [b.get_attribute("aria-pressed") for b in buttons.all()] == ["true", "false"]
    page.keyboard.press("Escape")

    sent, before = len(wire.sent), chat.bot_count()
    chat.switch("es")
    assert texts_asked[-1] == "lang=es"
    chat.wait_reply(before)
    # the language now pressed; the focus on the question the bot asked again
    assert [b.get_attribute("aria-pressed") for b in page.locator(".psw-langs button").all()] == ["false", "true"]
    assert page.locator(".psw-langs").get_attribute("aria-label") == ES["language_switch"]
    assert page.evaluate("document.activeElement.closest('.psw-log') !== null")
    # the bot is asked to say its question again, in Spanish; nothing shows as sent by the patient
    assert wire.messages()[sent:] == [SWITCH % "es"]
    assert wire.sent[sent]["metadata"]["language"] == "es"
    assert chat.mine() == [start, "54"]
    assert _visible_texts(page) == _expected(ES)
    assert chat.progress().startswith(ES["question_of"].split("{")[0])   # "Pregunta 2 de ..."

    # every message from now on says Spanish; the answers so far are kept
    chat.send_text("yes")
    assert wire.languages()[-1] == "es"
    texts = user_texts(server.app, chat.state()["sender"])
    assert texts.count("54") == 1 and SWITCH % "es" in texts

    # and back
    sent, before = len(wire.sent), chat.bot_count()
    chat.switch("en")
    chat.wait_reply(before)
    assert wire.messages()[sent:] == [SWITCH % "en"] and wire.languages()[sent:] == ["en"]
    assert _visible_texts(page)["send"] == EN["send"] and chat.lang() == "en"
    assert chat.state()["lang"] == "en"
    assert wire.languages()[:2] == ["en", "en"] and all(wire.languages())
    assert chat.errors == []


def test_a_reload_keeps_the_language_and_other_tabs_follow(server, context):
    ctx = context()
    page = ctx.new_page()
    url = serve_page(page, server)
    chat = Widget(page, server.url, "en").open()
    before = chat.bot_count()
    chat.switch("es")
    chat.wait_reply(before)
    assert chat.state()["lang"] == "es"
    bubbles = page.locator(".psw-log .psw-msg").all_inner_texts()

    page.reload()
    page.locator(".psw-panel").wait_for(state="visible")
    assert chat.lang() == "es" and _visible_texts(page)["send"] == ES["send"]
    assert page.locator(".psw-log .psw-msg").all_inner_texts() == bubbles
    wire = Wire(page)
    chat.send_text("hola")
    assert wire.languages() == ["es"]

    # a second tab shows the conversation in Spanish; switched there, the first tab follows
    other = ctx.new_page()
    other.route(url, lambda route: route.fulfill(status=200, content_type="text/html",
                                                 body=EMBED.replace("%SERVER%", server.url).replace("%ATTRS%", ""),
                                                 headers={"Content-Security-Policy": CSP}))
    other.goto(url)
    other.locator(".psw-panel").wait_for(state="visible")
    tab = Widget(other, server.url, "es")
    assert tab.lang() == "es"
    tab.switch("en")
    page.wait_for_function("() => document.querySelector('.psw').lang === 'en'", timeout=WAIT)
    assert page.locator(".psw-send").inner_text() == EN["send"]

    # a new conversation on a fresh device starts from the page and the browser again
    fresh = context().new_page()
    serve_page(fresh, server)
    assert fresh.locator(".psw").get_attribute("lang") == "en"


def test_a_reply_with_custom_language_switches_the_widget(server, context):
    """The patient typed "español" and tapped the bot's offer: the reply says es, the widget follows."""
    page = context().new_page()
    bodies: list[dict] = []

    def bot(route):
        body = route.request.post_data_json
        bodies.append(body)
        if body["message"] == SWITCH % "es":
            reply = [{"recipient_id": "x", "text": "Muy bien, seguimos en español."},
                     {"recipient_id": "x", "text": "Pregunta 2 de 9\n¿Qué edad tiene?",
                      "custom": {"question": {"id": "age", "type": "age", "step": 2, "total": 9}, "language": "es"}}]
        elif body["message"] == "español":
            reply = [{"recipient_id": "x", "text": "Which language would you like?",
                      "buttons": [{"title": "English", "payload": SWITCH % "en"},
                                  {"title": "Español", "payload": SWITCH % "es"}]}]
        else:
            reply = [{"recipient_id": "x", "text": "Question 2 of 9\nHow old are you?",
                      "custom": {"question": {"id": "age", "type": "age", "step": 2, "total": 9}}}]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(reply))

    page.route(WEBHOOK, bot)
    serve_page(page, server)
    chat = Widget(page, server.url, "en").open()
    assert chat.progress() == "Question 2 of 9"
    chat.send_text("español")
    chat.tap_payload(SWITCH % "es")
    page.wait_for_function("() => document.querySelector('.psw').lang === 'es'", timeout=WAIT)
    chat.use("es")
    assert [b["message"] for b in bodies] == ["/greet", "español", SWITCH % "es"]
    assert [b["metadata"]["language"] for b in bodies] == ["en", "en", "en"]   # the bot switched, then the widget
    assert _visible_texts(page)["send"] == ES["send"] and chat.state()["lang"] == "es"
    assert chat.progress() == "Pregunta 2 de 9" == ES["question_of"].format(step=2, total=9)
    # each message is marked with the language it was said in; the header has the counter
    texts = page.locator(".psw-log .psw-bot .psw-text")
    assert texts.last.inner_text() == "¿Qué edad tiene?" and texts.last.get_attribute("lang") == "es"
    assert texts.first.get_attribute("lang") == "en"
    chat.send_text("54")
    assert bodies[-1]["metadata"]["language"] == "es"
    assert [b["message"] for b in bodies].count(SWITCH % "es") == 1   # the widget did not ask again
    assert chat.errors == []


def test_the_widgets_own_words_in_spanish(server, context):
    """Labels, the sending state, errors, the idle warning, dates and the printout: from es.yml."""
    page = context().new_page()
    result = {"recipient_id": "x", "text": "Resultado: puede que pueda participar.\n\nReferencia: AB2-C3D",
              "custom": {"prescreen_result": {"outcome": "likely_eligible", "reference": "AB2-C3D",
                                              "today": "2027-02-28"}}}
    state = {"fail": False}

    def bot(route):
        if state["fail"]:
            return route.abort()
        route.fulfill(status=200, content_type="application/json", body=json.dumps([result]))

    page.route(WEBHOOK, bot)
    serve_page(page, server, 'data-lang="es" data-idle-minutes="0.2"')
    chat = Widget(page, server.url, "es").open()
    assert page.get_by_role("button", name=ES["close"], exact=True).get_attribute("title") == ES["close_tip"]
    assert chat.progress() == ES["all_answered"]

    # the printout: Spanish words, a Spanish date, lang="es"
    page.evaluate("() => { window.print = () => { window.__printed = (window.__printed || 0) + 1 } }")
    page.get_by_role("button", name=ES["print"], exact=True).click()
    view = page.locator("#psw-print")
    assert view.get_attribute("lang") == "es"
    page.emulate_media(media="print")
    printed = view.inner_text()
    assert printed.startswith(ES["print_kicker"])
    assert ES["print_date"].format(date="28 de febrero de 2027") in printed
    assert ES["print_reference"].format(reference="AB2-C3D") in printed and ES["print_foot"] in printed
    assert ES["print_result"] in printed
    page.emulate_media(media="screen")

    # an error, and the message waiting to be sent
    state["fail"] = True
    chat.input.fill("hola")
    chat.input.press("Enter")
    alert = page.locator(".psw-alert")
    alert.get_by_text(ES["offline"]).wait_for(timeout=WAIT)
    assert page.locator(".psw-pending .psw-state").inner_text() == ES["not_sent"]
    assert alert.get_by_role("button").inner_text() == ES["try_again"]

    # the idle warning (12 s: it comes after 6 s), with the time in Spanish
    warning = page.get_by_role("alert").filter(has_text=ES["idle_warning"].split("{")[0].strip())
    warning.wait_for(timeout=WAIT)
    assert ES["idle_warning"].format(time=ES["seconds"].format(n=6)) in warning.inner_text()
    assert warning.get_by_role("button").inner_text() == ES["keep_going"]
    page.get_by_text(ES["idle_cleared"].format(time=ES["seconds"].format(n=12))).wait_for(timeout=WAIT)
    assert page.get_by_role("button", name=ES["new_chat"], exact=True).is_visible()


def test_axe_finds_no_violations_in_spanish(server, context):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = context().new_page()
    serve_page(page, server, 'data-lang="es" data-idle-minutes="0.2"')   # an English page, the widget in Spanish
    chat = Widget(page, server.url, "es")
    assert chat.lang() == "es"

    def check(where: str) -> None:
        results = axe.run(page)
        assert results.violations_count == 0, f"{where}:\n{results.generate_report()}"

    check("the launcher")
    chat.open()
    check("the greeting")
    page.get_by_role("button", name=ES["menu"], exact=True).click()
    assert page.get_by_role("group", name=ES["language_switch"], exact=True).is_visible()
    check("the menu with the language switch")
    page.get_by_role("button", name=ES["end_clear"], exact=True).click()
    check("are you sure?")
    page.get_by_role("button", name=ES["confirm_no"], exact=True).click()
    chat.tap_payload("/affirm")
    chat.send_text("54")
    check("a question")
    page.get_by_role("alert").filter(has_text=ES["idle_warning"].split("{")[0].strip()).wait_for(timeout=WAIT)
    check("the idle warning")
    page.set_viewport_size({"width": 360, "height": 740})
    check("on a phone")


# -- whole prescreens against the real bot --------------------------------------------------------

def _post(url: str, sender: str, text: str, lang: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text,
                       "metadata": {"message_id": uuid.uuid4().hex, "language": lang, "today": TODAY}}).encode()
    request = urllib.request.Request(url + "/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _turn(replies: list[dict]) -> str:
    """What the bot asks for now: a question's id, "review", "result" or "greeting"."""
    kind = "greeting"
    for r in replies:
        c = r.get("custom") or {}
        if c.get("prescreen_result"):
            return "result"
        if c.get("review"):
            kind = "review"
        elif c.get("question"):
            kind = c["question"]["id"]
    return kind


def _result(replies: list[dict]) -> tuple[dict, str]:
    r = next(r for r in replies if (r.get("custom") or {}).get("prescreen_result"))
    return r["custom"]["prescreen_result"], r.get("text") or ""


def english_prescreen(url: str, unsure: bool = False) -> tuple[list[tuple[str, str, str]], dict, str]:
    """An English prescreen by buttons, over HTTP: each turn's (what was asked, "tap"|"type", payload or text),
    the result and its text. Rituximab is answered with a date: eligible after a wait, from a date.
    `unsure`: "Not sure" wherever it can be tapped (the longest result: every criterion is a reason)."""
    sender, steps = uuid.uuid4().hex, []
    replies = _post(url, sender, "/greet", "en")
    for _ in range(40):
        asked = _turn(replies)
        if asked == "result":
            return steps, *_result(replies)
        question = "\n".join(r.get("text") or "" for r in replies)
        buttons = {b["title"]: b["payload"] for r in replies for b in r.get("buttons") or []}
        if asked == "greeting":
            step = ("tap", buttons["Start"])
        elif unsure and "Not sure" in buttons:
            step = ("tap", buttons["Not sure"])
        elif asked == "rituximab":
            step = ("type", RITUXIMAB)
        elif (title := button_answer(question, list(buttons))) is not None:
            step = ("tap", buttons[title])
        else:
            step = ("type", typed_answer(question))
        steps.append((asked, *step))
        replies = _post(url, sender, step[1], "en")
    raise AssertionError(f"no result after 40 turns: {replies}")


# What a Spanish speaker types for each question (the same answers as english_prescreen's).
TYPED_ES = {
    "greeting": "sí", "age": "tengo 54 años", "diagnosis": "sí, la difusa", "refractory": "sí",
    "features": "la piel se me pone más gruesa", "heart": "ninguna de esas", "hiv": "no", "hepatitis_b": "no",
    "hepatitis_c": "no", "serious_infection": "no", "labs": "no", "ivig": "nunca", "cyclophosphamide": "nunca",
    "biologic": "nunca", "rituximab": "el 31 de agosto de 2026", "other_biologic": "no", "pregnancy": "no",
    "review": "sí, es correcto",
}


def _spanish_prescreen(server, context, by: str):
    """The same prescreen in Spanish, in the browser of a Spanish speaker; returns what it needs to compare."""
    steps, en_result, en_text = english_prescreen(server.url)
    page = context("es-US").new_page()
    serve_page(page, server, f'data-today="{TODAY}"', html_lang=None)
    wire = Wire(page)
    chat = Widget(page, server.url, "es").open()
    asked = []
    for _ in range(40):
        turn = _turn(wire.replies[-1])
        if turn == "result":
            break
        asked.append(turn)
        assert len(asked) <= len(steps), f"Spanish asks more: {asked} (English: {[s[0] for s in steps]}); " \
                                         f"last reply: {wire.replies[-1]}"
        planned = steps[len(asked) - 1]
        assert planned[0] == turn, f"English asked {planned[0]!r} here, Spanish asks {turn!r}"
        if by == "taps" and planned[1] == "tap":
            title = chat.tap_payload(planned[2])
            assert chat.mine()[-1] == title
        elif by == "taps":
            chat.send_text(planned[2])
        else:
            chat.send_text(TYPED_ES[turn])
    es_result, es_text = _result(wire.replies[-1])
    assert asked == [s[0] for s in steps]
    assert set(wire.languages()) == {"es"}
    return page, chat, wire, (en_result, en_text), (es_result, es_text)


def _same_outcome(en, es) -> None:
    (en_result, en_text), (es_result, es_text) = en, es
    assert en_result["outcome"] == es_result["outcome"] == "eligible_after_washout"
    assert en_result["eligible_from"] == es_result["eligible_from"] == "2027-02-28"
    assert es_result["language"] == "es" and en_result["language"] == "en"
    assert "February 28, 2027" in en_text
    assert "28 de febrero de 2027" in es_text and "February" not in es_text


def test_a_whole_prescreen_in_spanish_by_taps_and_its_printout(server, context):
    page, chat, wire, en, es = _spanish_prescreen(server, context, "taps")
    _same_outcome(en, es)
    shown = page.locator(".psw-log .psw-result").last.inner_text()
    assert "28 de febrero de 2027" in shown
    assert chat.progress() == ES["all_answered"]
    # the Spanish bot's button titles were tapped (not the English ones)
    english_titles = {b["title"] for r in _english_buttons(server.url) for b in r}
    assert chat.mine()[0] not in english_titles
    # the printout, in Spanish
    page.evaluate("() => { window.print = () => {} }")
    page.get_by_role("button", name=ES["print"], exact=True).click()
    page.emulate_media(media="print")
    view = page.locator("#psw-print")
    assert view.get_attribute("lang") == "es"
    printed = view.inner_text()
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    assert lines[0] == ES["print_kicker"]
    assert ES["print_date"].format(date="25 de noviembre de 2026") in printed
    assert ES["print_answers"] in printed and ES["print_result"] in printed and ES["print_foot"] in printed
    assert "28 de febrero de 2027" in printed
    assert printed.index(ES["print_answers"]) < printed.index(ES["print_result"])
    assert not re.search(r"\b(Your|Date|Reference|February|November)\b", printed), printed
    page.emulate_media(media="screen")
    assert chat.errors == []


def _english_buttons(url: str) -> list[list[dict]]:
    return [r.get("buttons") or [] for r in _post(url, uuid.uuid4().hex, "/greet", "en")]


def test_a_whole_prescreen_in_spanish_by_typing(server, context):
    page, chat, wire, en, es = _spanish_prescreen(server, context, "typing")
    _same_outcome(en, es)
    typed = [m for m in wire.messages() if not m.startswith("/")]
    assert typed == [TYPED_ES[t] for t in [_turn(r) for r in wire.replies[:-1]]]
    assert chat.errors == []


# -- the Spanish panel at four sizes: nothing cut off by longer words -------------------------------

@pytest.mark.parametrize("size", list(SIZES))
def test_the_spanish_panel_fits_at_every_size(server, context, shots, size):
    width, height = SIZES[size]
    phone = width < 800
    page = context("es-US", viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone).new_page()
    steps, _, _ = english_prescreen(server.url)
    serve_page(page, server, f'data-today="{TODAY}"', html_lang=None)
    chat = Widget(page, server.url, "es")
    page.get_by_role("button", name=ES["launcher"], exact=True).wait_for()   # the texts come asynchronously
    check_layout(page, f"{size}, the launcher")
    chat.open()
    page.wait_for_timeout(100)
    check_layout(page, f"{size}, start")
    page.locator(".psw-log").evaluate("e => e.scrollTop = 0")
    _panel_shot(page, shots, f"es-{size}-start")
    page.get_by_role("button", name=ES["menu"], exact=True).click()
    _gaps_in_place(page, f"{size}, menu open")
    check_layout(page, f"{size}, menu open")
    _panel_shot(page, shots, f"es-{size}-menu")
    page.keyboard.press("Escape")

    def answer(how: str, value: str) -> None:
        if how == "tap":
            chat.tap_payload(value)
        else:
            chat.send_text(value)

    plan = iter(steps)
    for asked, how, value in plan:
        if asked == "features":   # several answers: two picked, then shown
            break
        answer(how, value)
        if asked == "diagnosis":
            check_layout(page, f"{size}, a question")
            page.locator(".psw-log").evaluate("e => e.scrollTop = e.scrollHeight")
            _panel_shot(page, shots, f"es-{size}-question")
    log = page.locator(".psw-log")
    toggles = log.locator(".psw-choices").last.locator("[aria-pressed]")
    toggles.nth(0).click()
    toggles.nth(2).click()
    _gaps_in_place(page, f"{size}, several answers")
    check_layout(page, f"{size}, several answers")
    log.evaluate("e => e.scrollTop = e.scrollHeight")
    _panel_shot(page, shots, f"es-{size}-several-answers")
    toggles.nth(2).click()
    toggles.nth(0).click()
    chat.tap_payload(value)
    for asked, how, value in plan:
        answer(how, value)
    check_layout(page, f"{size}, the result")
    log.evaluate("e => { const r = [...e.querySelectorAll('.psw-result')].pop(); e.scrollTop = r.offsetTop - 8; }")
    _panel_shot(page, shots, f"es-{size}-result")
    chat.menu(ES["end_clear"])
    check_layout(page, f"{size}, are you sure?")
    _panel_shot(page, shots, f"es-{size}-end-and-clear")
    page.get_by_role("button", name=ES["confirm_no"], exact=True).click()
    # the idle warning and an error, on the smallest screens too
    page.route(WEBHOOK, lambda route: route.abort())
    chat.input.fill("hola")
    chat.input.press("Enter")
    page.locator(".psw-alert").get_by_text(ES["offline"]).wait_for(timeout=WAIT)
    check_layout(page, f"{size}, an error")
    _panel_shot(page, shots, f"es-{size}-error")
    assert chat.errors == [] or all("Failed to load resource" in e for e in chat.errors), chat.errors


def test_the_longest_spanish_printout_fits_one_page(server, context, shots):
    """A4 and US Letter: one page each, as the English one (tests/test_widget_layout.py)."""
    from test_widget_layout import _gray_png, _pdf_pages

    steps, result, _ = english_prescreen(server.url, unsure=True)
    assert result["outcome"] == "needs_review"
    page = context("es-US").new_page()
    serve_page(page, server, f'data-today="{TODAY}"', html_lang=None)
    chat = Widget(page, server.url, "es").open()
    for _, how, value in steps:
        if how == "tap":
            chat.tap_payload(value)
        else:
            chat.send_text(value)
    page.evaluate("() => { window.print = () => {} }")
    page.get_by_role("button", name=ES["print"], exact=True).click()
    page.emulate_media(media="print")
    view = page.locator("#psw-print")
    assert view.get_attribute("lang") == "es" and view.inner_text().startswith(ES["print_kicker"])
    page.set_viewport_size({"width": 720, "height": 1000})
    _gray_png(page, view.screenshot(type="png"), shots / "es-printout.png")
    for paper in ("A4", "Letter"):
        page.evaluate("() => document.documentElement.classList.add('psw-printing')")
        assert view.is_visible() and view.evaluate("e => e.offsetHeight") > 500
        pdf = page.pdf(format=paper, margin={"top": "12mm", "bottom": "12mm", "left": "12mm", "right": "12mm"})
        assert _pdf_pages(pdf) == 1, f"the Spanish printout takes {_pdf_pages(pdf)} {paper} pages"
