"""Two-factor sign-in for staff (issue 14, item 3): TOTP with an authenticator app, enrolment with a
QR code, one-time recovery codes kept as hashes; required for admins, and for everyone with
PRESCREEN_REQUIRE_2FA=1; `prescreen users reset-2fa NAME`. One test logs in in a real browser."""

from __future__ import annotations

import re

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.db.schema import staff_recovery_codes, staff_users
from browserkit import LiveServer, browser, page  # noqa: F401  (fixtures)
from test_staff_helpers import (ADMIN_PASSWORD, TOTP_SECRET, add_staff, csrf_app, login, store_of,
                                token_of)


def next_code(secret: str = TOTP_SECRET) -> str:
    """The app's next code (the current one was taken at enrolment; the next step is accepted)."""
    import datetime as dt
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(dt.datetime.now(dt.timezone.utc)) + 1)


@pytest.fixture()
def app(tmp_path):
    return csrf_app(tmp_path)


def enrol_through_the_page(client) -> tuple[str, list[str]]:
    """Scan (read the key off the html), type the app's code; the key and the recovery codes."""
    html = client.get("/staff/enrol").get_data(as_text=True)
    assert "<svg" in html and "QR code" in html
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html)[1]
    done = client.post("/staff/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token_of(html)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", done.get_data(as_text=True))
    return secret, codes


def test_an_admin_without_two_factor_is_sent_to_enrol(app):
    add_staff(app, "root", ADMIN_PASSWORD, admin=True, two_factor=False)
    client = app.test_client()
    assert login(client, "root", ADMIN_PASSWORD).status_code == 302
    for url in ("/staff/", "/staff/audit", "/staff/export?format=csv"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].endswith("/staff/enrol"), url
    secret, codes = enrol_through_the_page(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/staff/audit").status_code == 200
    with store_of(app).engine.connect() as conn:
        stored = conn.execute(select(staff_users.c.totp_secret).where(staff_users.c.username == "root")).scalar()
        hashes = conn.execute(select(staff_recovery_codes.c.code_hash)).scalars().all()
    assert secret not in stored                                    # encrypted
    assert not set(codes) & set(hashes) and all(h.startswith("scrypt:") for h in hashes)


def test_a_password_alone_does_not_log_in(app):
    add_staff(app, "root", ADMIN_PASSWORD, admin=True)
    client = app.test_client()
    token = token_of(client.get("/staff/login").get_data(as_text=True))
    response = client.post("/staff/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": token})
    assert response.headers["Location"].endswith("/staff/login/code")
    assert client.get("/staff/").status_code == 302                # not logged in yet
    html = client.get("/staff/login/code").get_data(as_text=True)
    wrong = client.post("/staff/login/code", data={"code": "000000", "csrf_token": token_of(html)})
    assert wrong.status_code == 401
    code = next_code()
    html = client.get("/staff/login/code").get_data(as_text=True)
    assert client.post("/staff/login/code", data={"code": code, "csrf_token": token_of(html)}).status_code == 302
    assert client.get("/staff/").status_code == 200
    # the same code cannot be used again (a code seen over a shoulder, or replayed)
    other = app.test_client()
    token = token_of(other.get("/staff/login").get_data(as_text=True))
    other.post("/staff/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": token})
    html = other.get("/staff/login/code").get_data(as_text=True)
    assert other.post("/staff/login/code", data={"code": code, "csrf_token": token_of(html)}).status_code == 401


def test_a_recovery_code_works_once(app):
    add_staff(app, "root", ADMIN_PASSWORD, admin=True, two_factor=False)
    client = app.test_client()
    login(client, "root", ADMIN_PASSWORD)
    _, codes = enrol_through_the_page(client)
    for expected in (302, 401):
        fresh = app.test_client()
        token = token_of(fresh.get("/staff/login").get_data(as_text=True))
        fresh.post("/staff/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": token})
        html = fresh.get("/staff/login/code").get_data(as_text=True)
        assert fresh.post("/staff/login/code", data={"code": codes[0], "csrf_token": token_of(html)}).status_code \
            == expected


def test_everyone_enrols_when_required(tmp_path):
    app = csrf_app(tmp_path, REQUIRE_2FA=True)
    add_staff(app, "carol")
    client = app.test_client()
    login(client)
    assert client.get("/staff/").headers["Location"].endswith("/staff/enrol")
    # without the setting, staff who are not admins log in with their password
    other = csrf_app(tmp_path / "other")
    add_staff(other, "carol")
    plain = other.test_client()
    login(plain)
    assert plain.get("/staff/").status_code == 200


def test_reset_2fa_from_the_command_line(app, tmp_path):
    add_staff(app, "root", ADMIN_PASSWORD, admin=True)
    result = CliRunner().invoke(main, ["users", "reset-2fa", "root"],
                                env={"PRESCREEN_DATABASE_URL": app.config["DATABASE_URL"]})
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert login(client, "root", ADMIN_PASSWORD).status_code == 302    # no code asked any more ...
    assert client.get("/staff/").headers["Location"].endswith("/staff/enrol")   # ... but enrolment
    missing = CliRunner().invoke(main, ["users", "reset-2fa", "nobody"],
                                 env={"PRESCREEN_DATABASE_URL": app.config["DATABASE_URL"]})
    assert missing.exit_code == 1


def password_step(page, url: str) -> None:
    """The first step of a log-in in the browser: user name and password."""
    page.goto(url + "/staff/")
    page.get_by_label("User name").fill("root")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_logging_in_with_a_code_in_a_real_browser(tmp_path, page):
    app = csrf_app(tmp_path)
    add_staff(app, "root", ADMIN_PASSWORD, admin=True)
    live = LiveServer(app)
    try:
        password_step(page, live.url)
        page.wait_for_url("**/staff/login/code")
        page.get_by_label("Code").fill(next_code())
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/staff/")
        assert page.get_by_role("heading", level=1).count() >= 1 and "/staff/login" not in page.url
    finally:
        live.stop()


def test_enrolling_in_a_real_browser(tmp_path, page):
    app = csrf_app(tmp_path)
    add_staff(app, "root", ADMIN_PASSWORD, admin=True, two_factor=False)
    live = LiveServer(app)
    try:
        password_step(page, live.url)
        page.wait_for_url("**/staff/enrol")
        assert page.locator(".qr svg").is_visible()
        secret = page.locator("#totp-secret").inner_text()
        page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Turn on two-factor sign-in").click()
        assert page.locator("#recovery-codes li").count() == 10
    finally:
        live.stop()
