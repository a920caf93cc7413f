"""Two-factor sign-in for staff (issue 14, item 3): TOTP codes from an authenticator app (pyotp),
enrolment with a QR code (segno, as inline SVG), ten one-time recovery codes kept only as hashes.

The TOTP secret must be read back to check a code, so it cannot be hashed: it is stored encrypted
(Fernet, with a key derived from PRESCREEN_SECRET_KEY). Changing the secret key makes the stored
secrets unreadable: staff then enrol again (`prescreen users reset-2fa NAME`). A code is accepted
once (the last time step used is kept) within one step either side of now.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Engine
from werkzeug.security import check_password_hash, generate_password_hash

from bot import db
from bot.db.schema import now_utc, staff_recovery_codes as codes, staff_users as users

ISSUER = "Prescreen staff"
RECOVERY_CODES = 10


def _fernet(secret_key: str) -> Fernet:
    key = hashlib.sha256(("prescreen totp " + secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def new_secret() -> str:
    return pyotp.random_base32()


def qr_svg(secret: str, username: str) -> str:
    """The enrolment QR code (an otpauth:// URI) as an SVG element to put in the page."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
    return segno.make(uri, error="m").svg_inline(scale=5, title="QR code for your authenticator app")


def enrolled(engine: Engine, user_id: int) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(users.c.totp_secret).where(users.c.id == user_id)).scalar() is not None


def enrol(engine: Engine, user_id: int, secret: str, code: str, secret_key: str) -> list[str] | None:
    """Save the secret once the app shows a right code for it; returns the recovery codes (shown
    once, kept only as hashes), or None when the code is wrong."""
    totp = pyotp.TOTP(secret)
    if not (code or "").strip().isdigit() or not totp.verify(code.strip(), valid_window=1):
        return None
    plain = [f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}" for _ in range(RECOVERY_CODES)]
    with db.write(engine) as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(
            totp_secret=_fernet(secret_key).encrypt(secret.encode()).decode(), totp_last_step=totp.timecode(now_utc())))
        conn.execute(delete(codes).where(codes.c.user_id == user_id))
        conn.execute(insert(codes), [{"user_id": user_id, "code_hash": generate_password_hash(c, method="scrypt")}
                                     for c in plain])
    return plain


def check(engine: Engine, user_id: int, code: str, secret_key: str) -> bool:
    """A right TOTP code not used before, or an unused recovery code (then used up)."""
    code = (code or "").strip().lower()
    with engine.connect() as conn:
        stored, last_step = conn.execute(select(users.c.totp_secret, users.c.totp_last_step)
                                         .where(users.c.id == user_id)).one()
        spare = conn.execute(select(codes.c.id, codes.c.code_hash)
                             .where(codes.c.user_id == user_id, codes.c.used_at.is_(None))).all()
    if stored is None:
        return False
    if code.isdigit() and len(code) == 6:
        try:
            totp = pyotp.TOTP(_fernet(secret_key).decrypt(stored.encode()).decode())
        except InvalidToken:
            return False
        now = now_utc()
        for offset in (-1, 0, 1):
            step = totp.timecode(now) + offset
            if step > (last_step or 0) and secrets.compare_digest(totp.generate_otp(step), code):
                with db.write(engine) as conn:   # only once: a code seen is never taken again
                    taken = conn.execute(update(users).where(
                        users.c.id == user_id, or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step))
                        .values(totp_last_step=step)).rowcount
                return taken == 1
        return False
    for row_id, hashed in spare:
        if check_password_hash(hashed, code):
            with db.write(engine) as conn:
                used = conn.execute(update(codes).where(codes.c.id == row_id, codes.c.used_at.is_(None))
                                    .values(used_at=now_utc())).rowcount
            return used == 1
    return False


def reset(engine: Engine, user_id: int) -> None:
    """Forget the account's second factor (it enrols again at its next log-in)."""
    with db.write(engine) as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(totp_secret=None, totp_last_step=None))
        conn.execute(delete(codes).where(codes.c.user_id == user_id))
