"""The widget over plain HTTP: its files, the size budget, the demo page and CORS."""

from __future__ import annotations

import re
import threading

import pytest
import yaml

from browserkit import ROOT, make_app
from bot.widget.cors import parse_origins

STATIC = ROOT / "bot" / "widget" / "static"
BUDGET = 30 * 1000  # bytes, JS + CSS, uncompressed (issue 5: "<= 30 KB")
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


def test_size_budget():
    js = (STATIC / "widget.js").stat().st_size
    css = (STATIC / "widget.css").stat().st_size
    print(f"widget.js {js} bytes, widget.css {css} bytes, total {js + css} bytes (budget {BUDGET})")
    assert js + css <= BUDGET


def test_served_size_budget(client):
    js = len(client.get("/widget.js").data)
    css = len(client.get("/widget.css").data)
    assert js + css <= BUDGET


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
    data["summary"] = "Summary with <img src=x onerror=alert(1)>"
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
        WEBHOOK, json={"sender": "cors-test-1", "message": "hi", "metadata": {"message_id": "m-cors-1"}},
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


def test_only_the_webhook_is_shared(client):
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
