"""Shared helpers for the staff tests (no tests here): apps with CSRF on, staff
accounts, logging in, and patients who talk to the bot to make the data.

    from test_staff_helpers import Chat, login, add_staff, ...
"""

from __future__ import annotations

import re
from pathlib import Path

from browserkit import make_app

ROOT = Path(__file__).resolve().parent.parent
FICTIONAL = str(ROOT / "tests" / "fixtures" / "fictional_trial.yaml")
TODAY = "2026-11-25"
PASSWORD = "a long enough password"
ADMIN_PASSWORD = "the admin's long password"

# the real trial, all buttons: likely eligible
REAL_LIKELY = ["hi", "tap:Start", "54", "tap:Yes, the diffuse type", "tap:Yes", "tap:Skin getting thicker or tighter",
               "tap:None of these", "tap:No", "tap:No", "tap:No", "tap:No", "tap:No", "tap:Never had it",
               "tap:Never had it", "tap:Never had them", "tap:Never had it", "tap:No", "tap:Doesn't apply to me",
               "tap:That's right, show my result"]
REAL_TOO_YOUNG = ["hi", "tap:Start", "17", "tap:Yes, that's right",   # typed 17 is checked back
                  "tap:That's right, show my result"]
REAL_ABANDONED = ["hi", "tap:Start", "54", "tap:Yes, the limited type"]
# the fictional recruiting trial up to its contact opt-in
FICTIONAL_TO_RESULT = ["hi", "tap:Start", "I'm 45", "tap:Yes", "tap:Early", "tap:No", "no", "tap:Never", "tap:Never",
                       "tap:That's right, show my result"]


def csrf_app(tmp_path, **config):
    """An app on a fresh database with CSRF protection ON (make_app only sets TESTING)."""
    app = make_app(tmp_path, **config)
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    return app


def store_of(app):
    return app.extensions["prescreen_store"]


TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"   # the test admins' authenticator key


def add_staff(app, name: str = "carol", password: str = PASSWORD, admin: bool = False, two_factor: bool | None = None):
    """A staff account; admins (who must have it) get two-factor sign-in with TOTP_SECRET."""
    import pyotp
    from bot.staff import accounts, twofactor
    user = accounts.add_user(store_of(app).engine, name, password, admin)
    if admin if two_factor is None else two_factor:
        assert twofactor.enrol(store_of(app).engine, user.id, TOTP_SECRET, pyotp.TOTP(TOTP_SECRET).now(),
                               app.secret_key) is not None
    return user


def token_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


def login(client, name: str = "carol", password: str = PASSWORD):
    """Log in through the form (with its CSRF token), and the code step when the account has two-factor
    sign-in (a code of TOTP_SECRET not used yet); the response to the last POST."""
    import pyotp
    token = token_of(client.get("/staff/login").get_data(as_text=True))
    response = client.post("/staff/login", data={"username": name, "password": password, "csrf_token": token})
    if response.status_code == 302 and response.headers["Location"].endswith("/staff/login/code"):
        totp = pyotp.TOTP(TOTP_SECRET)
        step = totp.timecode(__import__("datetime").datetime.now())
        for offset in (-1, 0, 1):   # each code is taken once: the next one not used yet
            page = client.get("/staff/login/code")
            response = client.post("/staff/login/code", data={"code": totp.generate_otp(step + offset),
                                                              "csrf_token": token_of(page.get_data(as_text=True))})
            if response.status_code == 302:
                break
    return response


def page_token(client, url: str) -> str:
    return token_of(client.get(url).get_data(as_text=True))


class Chat:
    """A patient talking to the app's Conversations directly; `tap:Title` taps a button."""

    def __init__(self, app, sender: str) -> None:
        self.conversations = app.extensions["prescreen"]
        self.sender = sender
        self.replies: list[dict] = []

    def say(self, message: str) -> list[dict]:
        if message.startswith("tap:"):
            title = message[4:]
            buttons = [b for r in self.replies for b in (r.get("buttons") or [])]
            matches = [b for b in buttons if b["title"] == title]
            assert matches, f"no button {title!r} in {[b['title'] for b in buttons]}"
            message = matches[0]["payload"]
        self.replies = self.conversations.message(self.sender, message, {"today": TODAY})
        return self.replies

    def run(self, script: list[str]) -> "Chat":
        for step in script:
            self.say(step)
        return self

    @property
    def result(self) -> dict | None:
        for r in self.replies:
            res = (r.get("custom") or {}).get("prescreen_result")
            if res:
                return res
        return None


def opt_in(app, sender: str, name: str, details: str = "ann@example.org") -> Chat:
    """A fictional-trial patient who finishes and asks to be contacted."""
    chat = Chat(app, sender).run(FICTIONAL_TO_RESULT)
    assert chat.result and chat.result["outcome"] == "likely_eligible"
    chat.run(["tap:Yes, contact me", name, details])
    return chat
