"""The widget over plain HTTP: its files, its texts, the size budget, the demo page and CORS."""

from __future__ import annotations

import gzip
import re
import shutil
import threading

import pytest
import yaml

from browserkit import ROOT, make_app
from bot.widget.cors import parse_origins

STATIC = ROOT / "bot" / "widget" / "static"
TEXTS = ROOT / "bot" / "widget" / "texts"
GZIP_BUDGET = 14 * 1000  # bytes, JS + CSS as served, each gzipped at level 9 (issue 13: "<= 14 KB gzipped")
# the one sentence widget.js may hold itself: shown when its texts cannot be loaded
FALLBACK = "Sorry, the chat could not load. Please try again later."
WEBHOOK = "/webhooks/rest/webhook"
PARTNER = "https://partner.example.org"


@pytest.fixture()
def app(tmp_path):
    return make_app(tmp_path, ALLOWED_ORIGINS=f"{PARTNER}, http://127.0.0.1:8123/")


@pytest.fixture()
def client(app):
    return app.test_client()


def _code(text: str) -> str:
    """Source without /* */ and // comments (roughly), to look for URLs in code."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$", "", text)


# -- the files -------------------------------------------------------------------------

def test_widget_js_is_served_with_the_study_name(client, app):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    body = response.get_data(as_text=True)
    assert app.extensions["prescreen_trial"].model.short_title in body
    assert "/*@site*/" not in body
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers.get("ETag")
    again = client.get("/widget.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_widget_css_is_served(client):
    response = client.get("/widget.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    assert ".psw-panel" in response.get_data(as_text=True)


def test_gzip_size_budget(client):
    """What a phone downloads: the served widget.js and widget.css, gzipped (level 9), together."""
    sizes = {}
    for path in ("/widget.js", "/widget.css", "/widget/texts?lang=en"):
        body = client.get(path).data
        sizes[path] = (len(body), len(gzip.compress(body, compresslevel=9)))
    total = sizes["/widget.js"][1] + sizes["/widget.css"][1]
    print("; ".join(f"{path} {raw} bytes, {gz} gzipped" for path, (raw, gz) in sizes.items()))
    print(f"widget.js + widget.css gzipped: {total} bytes (budget {GZIP_BUDGET})")
    assert total <= GZIP_BUDGET


def test_comments_are_left_out_of_the_served_files(client):
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    served = client.get("/widget.js").get_data(as_text=True)
    assert served.count("\n") == source.count("\n")          # an error's line number points into the source
    assert not re.search(r"(^|\s)//", served.split("*/", 1)[1])
    # what makes the stripping safe: no string or regular expression in the code holds "//"
    code = re.sub(r"(?m)^[ \t]*//.*$|[ \t]+//\s.*$", "", source)
    assert "//" not in re.sub(r"/\*.*?\*/", "", code, flags=re.DOTALL)
    css = client.get("/widget.css").get_data(as_text=True)
    assert "/*" not in css and ".psw-panel" in css


def test_widget_loads_nothing_from_other_hosts():
    js = _code((STATIC / "widget.js").read_text(encoding="utf-8"))
    css = _code((STATIC / "widget.css").read_text(encoding="utf-8"))
    for source in (js, css):
        assert not re.search(r"https?://", source)
        assert "@import" not in source and "@font-face" not in source
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js
    assert "eval(" not in js and "new Function" not in js
    assert "setAttribute(\"style\"" not in js and ".style." not in js  # CSP: style-src 'self'


def test_sender_and_message_ids_are_128_bit_random():
    js = (STATIC / "widget.js").read_text(encoding="utf-8")
    assert "crypto.getRandomValues" in js
    assert "st.sender = hex(16)" in js and "id: hex(16)" in js
    assert "Math.random" not in js


# -- the widget's texts --------------------------------------------------------------------

def _en() -> dict:
    return yaml.safe_load((TEXTS / "en.yml").read_text(encoding="utf-8"))


def test_texts_are_served_as_json_with_the_trials_status(client, app):
    response = client.get("/widget/texts?lang=en")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    model = app.extensions["prescreen_trial"].model
    assert body["lang"] == "en" and body["locale"] == "en-US"
    assert body["texts"] == _en()["texts"]
    assert body["texts"]["launcher"].startswith("Chat")  # the launcher's name starts with "Chat"
    assert body["status"] == model.status == "not_recruiting"
    assert body["status_notice"] == model.status_notice and body["status_notice"]


def test_texts_of_a_recruiting_trial(tmp_path):
    data = yaml.safe_load((ROOT / "criteria.yaml").read_text(encoding="utf-8"))
    data["status"], data["status_notice"] = "recruiting", ""
    criteria = tmp_path / "criteria.yaml"
    criteria.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    body = make_app(tmp_path, CRITERIA=str(criteria)).test_client().get("/widget/texts").get_json()
    assert body["status"] == "recruiting" and body["status_notice"] is None


@pytest.mark.parametrize("query", ["", "?lang=", "?lang=en", "?lang=EN-us", "?lang=xx", "?lang=../../criteria",
                                   "?lang=en.yml", "?lang=%00", "?lang=" + "e" * 300])
def test_unknown_or_missing_languages_get_english(client, query):
    response = client.get("/widget/texts" + query)
    assert response.status_code == 200
    assert response.get_json()["lang"] == "en"


def test_a_second_language_is_a_second_file(tmp_path, monkeypatch):
    """es.yml (later): its own words, English for any text it does not have yet, its own date locale."""
    from bot import widget
    folder = tmp_path / "texts"
    folder.mkdir()
    shutil.copy(TEXTS / "en.yml", folder / "en.yml")
    (folder / "es.yml").write_text('locale: es-US\ntexts:\n  send: Enviar\n', encoding="utf-8")
    monkeypatch.setattr(widget, "TEXTS", folder)
    client = make_app(tmp_path).test_client()
    body = client.get("/widget/texts?lang=es-MX").get_json()
    assert body["lang"] == "es" and body["locale"] == "es-US"
    assert body["texts"]["send"] == "Enviar"
    assert body["texts"]["done"] == _en()["texts"]["done"]
    assert widget.languages() == ["en", "es"]
    assert client.get("/widget/texts?lang=fr").get_json()["lang"] == "en"


def test_texts_have_the_widget_files_cache_headers(client):
    response = client.get("/widget/texts?lang=en")
    assert response.headers["Cache-Control"] == client.get("/widget.js").headers["Cache-Control"] == "no-cache"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers.get("ETag")
    again = client.get("/widget/texts?lang=en", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_texts_are_shared_with_allowed_origins_only(client):
    allowed = client.get("/widget/texts?lang=en", headers={"Origin": PARTNER})
    assert allowed.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Origin" in allowed.headers["Vary"]
    other = client.get("/widget/texts?lang=en", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers


def _js() -> str:
    return (STATIC / "widget.js").read_text(encoding="utf-8")


def test_every_text_the_widget_uses_is_in_the_file_and_every_text_is_used():
    js, keys = _js(), set(_en()["texts"])
    used = {k for call in re.findall(r"\bt\(([^()]*)", js) for k in re.findall(r'"(\w+)"', call)}
    assert used and used <= keys, used - keys
    unused = [k for k in keys if f'"{k}"' not in js]
    assert unused == []


def test_the_widget_holds_no_patient_facing_words_of_its_own():
    """Every word a patient sees comes from texts/<lang>.yml; only the load failure is built in."""
    code = re.sub(r"/\*.*?\*/", "", _js(), flags=re.DOTALL)
    code = re.sub(r"(?m)//.*$", "", code)
    technical = {"use strict", "Content-Type", "Esc", "Escape", "Tab", FALLBACK}
    prose = []
    for literal in re.findall(r'"((?:[^"\\]|\\.)*)"', code) + re.findall(r"'((?:[^'\\]|\\.)*)'", code):
        words = re.sub(r"psw-[\w-]+", "", literal)
        if literal not in technical and (re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", words) or re.match(r"[A-Z][a-z]", literal)):
            prose.append(literal)
    assert prose == []
    assert FALLBACK in code


def test_the_texts_are_plain_and_short():
    """US grade 8 or below (Flesch-Kincaid, as tests/test_readability.py scores the dialogue), 25 words at most."""
    import textstat   # a dev dependency (pinned): never skipped
    hard, long = [], []
    for key, text in _en()["texts"].items():
        plain = re.sub(r"\{\w+\}", "it", text)
        n = textstat.lexicon_count(plain)
        if n >= 10 and textstat.flesch_kincaid_grade(plain) > 8:
            hard.append((key, textstat.flesch_kincaid_grade(plain)))
        if n > 25:
            long.append(key)
    assert hard == [] and long == []


def test_the_texts_file_names_its_language():
    assert (TEXTS / "en.yml").is_file()
    data = _en()
    assert set(data) == {"locale", "texts"} and data["locale"] == "en-US"
    assert all(isinstance(v, str) and v.strip() for v in data["texts"].values())


# -- the demo page ------------------------------------------------------------------------

def test_demo_page_shows_the_trial_and_embeds_the_widget(client, app):
    trial = app.extensions["prescreen_trial"]
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert trial.model.title in html
    assert trial.model.summary[:60] in html
    assert "Recruitment status" in html
    assert ("Not recruiting" in html) != trial.recruiting
    assert trial.model.contact.organisation in html
    assert trial.model.contact.address in html
    for investigator in trial.model.investigators:
        assert investigator.name in html
    assert trial.id in html
    assert re.search(r'<script src="/widget\.js"[^>]*\sdefer></script>', html)
    assert '<link rel="stylesheet" href="/widget.css">' in html


def test_demo_page_needs_no_inline_script_or_style(client):
    html = client.get("/").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r'(?:src|href)="(?:https?:)?//(?!clinicaltrials\.gov)', html.split("<pre")[0]), \
        "the page loads nothing from other hosts"


def test_demo_page_escapes_the_trial_text(tmp_path):
    data = yaml.safe_load((ROOT / "criteria.yaml").read_text(encoding="utf-8"))
    data["title"] = "A <b>bold</b> & <script>alert(1)</script> study"
    data["summary"] = {"en": "Summary with <img src=x onerror=alert(1)>", "es": "Resumen con <img src=x onerror=alert(1)>"}
    criteria = tmp_path / "criteria.yaml"
    criteria.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    html = make_app(tmp_path, CRITERIA=str(criteria)).test_client().get("/").get_data(as_text=True)
    assert "<b>bold</b>" not in html and "<script>alert" not in html and "<img src=x" not in html
    assert "A &lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt; study" in html


def test_demo_page_replaces_the_temporary_start_page(app):
    rules = [r for r in app.url_map.iter_rules() if r.rule == "/"]
    assert [r.endpoint for r in rules] == ["widget.index"]


# -- CORS ------------------------------------------------------------------------------------

def _preflight(client, origin):
    return client.options(WEBHOOK, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})


def _post(client, origin=None):
    """POST a first message; in a worker thread, since the in-process action runner cannot
    run while an asyncio loop runs in this thread (a session-wide Playwright keeps one)."""
    headers = {"Origin": origin} if origin else {}
    out = []
    worker = threading.Thread(target=lambda: out.append(client.post(
        WEBHOOK, json={"sender": "cors-test-1-0123456789abcdef", "message": "hi", "metadata": {"message_id": "m-cors-1"}},
        headers=headers)))
    worker.start()
    worker.join(30)
    return out[0]


def test_preflight_from_an_allowed_origin(client):
    response = _preflight(client, PARTNER)
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "Origin" in response.headers.get("Vary", "")


def test_post_from_an_allowed_origin(client):
    response = _post(client, PARTNER)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_origins_are_normalised(client):
    assert _preflight(client, "http://127.0.0.1:8123").headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8123"


@pytest.mark.parametrize("origin", ["https://evil.example.com", "https://partner.example.org.evil.com",
                                    "http://partner.example.org", "https://partner.example.org:444", "null"])
def test_other_origins_get_no_cors_headers(client, origin):
    for response in (_preflight(client, origin), _post(client, origin)):
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Methods" not in response.headers


def test_same_origin_and_curl_need_no_cors(client):
    response = _post(client)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_only_the_webhook_and_the_texts_are_shared(client):
    for path in ("/health", "/", "/widget.js"):
        assert "Access-Control-Allow-Origin" not in client.get(path, headers={"Origin": PARTNER}).headers


def test_error_answers_carry_cors_headers_so_the_widget_can_read_them(client):
    response = client.post(WEBHOOK, json={"sender": "bad sender!", "message": "hi"}, headers={"Origin": PARTNER})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER


def test_origins_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESCREEN_ALLOWED_ORIGINS", "https://a.example.org,https://b.example.org")
    client = make_app(tmp_path).test_client()
    assert _preflight(client, "https://b.example.org").headers["Access-Control-Allow-Origin"] == "https://b.example.org"
    assert "Access-Control-Allow-Origin" not in _preflight(client, PARTNER).headers


def test_config_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PRESCREEN_ALLOWED_ORIGINS", "https://a.example.org")
    client = make_app(tmp_path, ALLOWED_ORIGINS="").test_client()
    assert "Access-Control-Allow-Origin" not in _preflight(client, "https://a.example.org").headers


def test_no_origins_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("PRESCREEN_ALLOWED_ORIGINS", raising=False)
    client = make_app(tmp_path).test_client()
    assert "Access-Control-Allow-Origin" not in _preflight(client, PARTNER).headers


def test_parse_origins():
    assert parse_origins(" https://A.example.org/ ,,http://127.0.0.1:5005") == {
        "https://a.example.org", "http://127.0.0.1:5005"}
    assert parse_origins(["https://x.example.org"]) == {"https://x.example.org"}
    assert parse_origins(None) == frozenset() and parse_origins("") == frozenset()


@pytest.mark.parametrize("bad", ["example.org", "https://example.org/path", "*", "ftp://example.org"])
def test_a_bad_origin_is_an_error_that_names_the_setting(bad):
    with pytest.raises(ValueError, match=r"PRESCREEN_ALLOWED_ORIGINS: .* is not an origin"):
        parse_origins(bad)
