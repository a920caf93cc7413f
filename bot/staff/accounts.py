"""Staff accounts: scrypt password hashes, checking a login, and slowing down
repeated failed logins (counters per user name and per address, in the database,
so that every worker and host sees them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask_login import UserMixin
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from bot.db.schema import as_utc, login_failures, now_utc, staff_sessions as sessions, staff_users as users

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
USERNAME_RE = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
HASH_METHOD = "scrypt"

# failed logins: after FREE failures within WINDOW, each further failure locks
# the key for BASE * 2**(n - FREE), at most MAX
USER_FREE, ADDRESS_FREE = 5, 20
BASE_LOCK = dt.timedelta(seconds=30)
MAX_LOCK = dt.timedelta(minutes=15)
WINDOW = dt.timedelta(minutes=15)

_DUMMY_HASH: str | None = None


class AccountError(ValueError):
    """A request about an account that cannot be done; the message says why."""


@dataclass
class StaffUser(UserMixin):
    """A logged-in staff member (Flask-Login user)."""

    id: int
    username: str
    is_admin: bool
    disabled: bool
    session_version: int

    def get_id(self) -> str:
        # a password reset or disable bumps the version: older sessions stop loading
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return not self.disabled

    @classmethod
    def from_row(cls, row: Any) -> "StaffUser":
        return cls(row["id"], row["username"], bool(row["is_admin"]), bool(row["disabled"]),
                   int(row["session_version"]))


def check_username(name: str) -> str:
    """The user name if it is 1-64 characters of A-Z a-z 0-9 _ . @ -."""
    if not isinstance(name, str) or not USERNAME_RE.fullmatch(name):
        raise AccountError("A user name is 1-64 characters of A-Z a-z 0-9 _ . @ -")
    return name


def check_password(password: str, username: str = "") -> str:
    """The password if it is long enough (and not absurdly long), not the user name (also with digits
    or signs after it, or repeated), not one
    character or one short run repeated ("passwordpassword", 12 spaces), and not a common password
    (zxcvbn's list of 30,000, also once trailing digits and signs are taken off: "Password2024!")."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    lowered = password.lower()
    core = re.sub(r"[\d\W_]+$", "", lowered)
    if username and username.lower() in (lowered, core, _repeated_unit(lowered)):
        raise AccountError("The password must not be the user name.")
    unit = _repeated_unit(lowered)
    if len(unit) <= len(lowered) // 2 or not lowered.strip():
        raise AccountError("The password must not be one character or a few characters repeated.")
    if {lowered, core, unit} & _common_passwords():
        raise AccountError("That password is one of the most common ones. Please choose another.")
    return password


def _repeated_unit(text: str) -> str:
    """The shortest run that repeated makes the text ("ab" for "ababab"); the text itself if none."""
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return text[:size]
    return text


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    return frozenset(FREQUENCY_LISTS["passwords"])


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD)


def _find(conn: Connection, name: str):
    return conn.execute(select(users).where(func.lower(users.c.username) == name.lower())).mappings().first()


def add_user(engine: Engine, name: str, password: str, admin: bool = False) -> StaffUser:
    """Create an account; refuses a name already taken (in any letter case)."""
    check_username(name)
    check_password(password, name)
    hashed = hash_password(password)
    with engine.begin() as conn:
        if _find(conn, name) is not None:
            raise AccountError(f"A user named {name!r} already exists.")
        now = now_utc()
        conn.execute(insert(users).values(username=name, password_hash=hashed, is_admin=admin, disabled=False,
                                          created_at=now, password_changed_at=now, session_version=1))
        return StaffUser.from_row(_find(conn, name))


def list_users(engine: Engine) -> list[dict[str, Any]]:
    """Every account (without password hashes), by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(users.c.id, users.c.username, users.c.is_admin, users.c.disabled,
                                   users.c.created_at, users.c.password_changed_at)
                            .order_by(users.c.username)).mappings().all()
        return [dict(r) for r in rows]


def disable_user(engine: Engine, name: str) -> None:
    """Stop an account from logging in; its open sessions end at their next request."""
    with engine.begin() as conn:
        row = _find(conn, name)
        if row is None:
            raise AccountError(f"No user named {name!r}.")
        conn.execute(update(users).where(users.c.id == row["id"])
                     .values(disabled=True, session_version=users.c.session_version + 1))
        conn.execute(delete(sessions).where(sessions.c.user_id == row["id"]))


def reset_password(engine: Engine, name: str, password: str) -> None:
    """Set a new password; open sessions of the account end."""
    check_password(password, name)
    hashed = hash_password(password)
    with engine.begin() as conn:
        row = _find(conn, name)
        if row is None:
            raise AccountError(f"No user named {name!r}.")
        conn.execute(update(users).where(users.c.id == row["id"])
                     .values(password_hash=hashed, password_changed_at=now_utc(),
                             session_version=users.c.session_version + 1))
        conn.execute(delete(sessions).where(sessions.c.user_id == row["id"]))


# -- sessions held on the server ------------------------------------------------------
TOUCH_EVERY = 30   # seconds: a session's last_seen is written at most this often (not on every page)


def _token_hash(token: str) -> str:
    """The stored form of a session token (256 random bits: SHA-256 is enough, nothing to guess)."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: Engine, user: "StaffUser") -> str:
    """A new session of this user; its token goes in the (signed) cookie, its hash in the table."""
    token = secrets.token_urlsafe(32)
    now = now_utc()
    with engine.begin() as conn:
        conn.execute(insert(sessions).values(token_hash=_token_hash(token), user_id=user.id, created_at=now,
                                             last_seen=now))
    return token


def session_alive(engine: Engine, token: Any, user_id: int, idle_seconds: float) -> bool:
    """Whether the session is still open on the server, belongs to this user and was used within the
    idle time; an idle session is ended here. Its last use is recorded (at most every TOUCH_EVERY s)."""
    if not isinstance(token, str) or not token:
        return False
    key, now = _token_hash(token), now_utc()
    with engine.connect() as conn:
        row = conn.execute(select(sessions.c.user_id, sessions.c.last_seen)
                           .where(sessions.c.token_hash == key)).first()
    if row is None or row.user_id != user_id:
        return False
    idle = (now - as_utc(row.last_seen)).total_seconds()
    with engine.begin() as conn:
        if idle > idle_seconds:
            conn.execute(delete(sessions).where(sessions.c.token_hash == key))
            return False
        if idle > TOUCH_EVERY:
            conn.execute(update(sessions).where(sessions.c.token_hash == key).values(last_seen=now))
    return True


def end_session(engine: Engine, token: Any) -> None:
    """Log a session out on the server: its cookie, even a copy, no longer opens anything."""
    if isinstance(token, str) and token:
        with engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))


def load_user(engine: Engine, user_id: str) -> StaffUser | None:
    """The user of a session id "<id>:<version>", or None when unknown, disabled or signed out by a reset."""
    try:
        raw_id, raw_version = user_id.split(":", 1)
        ident, version = int(raw_id), int(raw_version)
    except (ValueError, AttributeError):
        return None
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == ident)).mappings().first()
    if row is None or row["disabled"] or int(row["session_version"]) != version:
        return None
    return StaffUser.from_row(row)


def verify(engine: Engine, name: str, password: str) -> StaffUser | None:
    """The active user with this name and password, or None (the same work either way)."""
    global _DUMMY_HASH
    row = None
    if isinstance(name, str) and USERNAME_RE.fullmatch(name or ""):
        with engine.connect() as conn:
            row = _find(conn, name)
    password = (password or "")[:MAX_PASSWORD_LENGTH]
    if row is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password("not a password of anyone")
        check_password_hash(_DUMMY_HASH, password)  # same time as a real check
        return None
    if not check_password_hash(row["password_hash"], password) or row["disabled"]:
        return None
    return StaffUser.from_row(row)


# -- slowing down failed logins ------------------------------------------------------

def throttle_keys(name: str, address: str | None) -> list[tuple[str, int]]:
    """The counters a login attempt counts against, with their free failures."""
    keys = [("user:" + (name or "").lower()[:100], USER_FREE)]
    if address:
        keys.append(("addr:" + address[:100], ADDRESS_FREE))
    return keys


def locked_for(engine: Engine, keys: list[tuple[str, int]], now: dt.datetime | None = None) -> int:
    """Seconds until these counters allow another attempt (0: allowed now)."""
    now = now or now_utc()
    with engine.connect() as conn:
        rows = conn.execute(select(login_failures.c.locked_until)
                            .where(login_failures.c.key.in_([k for k, _ in keys]))).all()
    wait = 0.0
    for (until,) in rows:
        until = as_utc(until)
        if until and until > now:
            wait = max(wait, (until - now).total_seconds())
    return int(wait + 0.999)


def record_failure(engine: Engine, keys: list[tuple[str, int]], now: dt.datetime | None = None) -> None:
    """Count a failed login against each key; lock a key once past its free failures."""
    now = now or now_utc()
    try:
        _record_failure(engine, keys, now)
    except IntegrityError:  # another worker created the same counter just now
        _record_failure(engine, keys, now)


def _record_failure(engine: Engine, keys: list[tuple[str, int]], now: dt.datetime) -> None:
    with engine.begin() as conn:
        for key, free in keys:
            row = conn.execute(select(login_failures).where(login_failures.c.key == key)).mappings().first()
            failures = 1
            if row is not None and now - as_utc(row["last_failure"]) < WINDOW:
                failures = int(row["failures"]) + 1
            locked = None
            if failures > free:
                locked = now + min(BASE_LOCK * 2 ** (failures - free - 1), MAX_LOCK)
            values = dict(failures=failures, last_failure=now, locked_until=locked)
            if row is None:
                conn.execute(insert(login_failures).values(key=key, **values))
            else:
                conn.execute(update(login_failures).where(login_failures.c.key == key).values(**values))


def clear_failures(engine: Engine, key: str) -> None:
    """Forget a user name's failed logins after a successful one."""
    with engine.begin() as conn:
        conn.execute(login_failures.delete().where(login_failures.c.key == key))
