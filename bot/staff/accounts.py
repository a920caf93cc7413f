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
from sqlalchemy import case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from werkzeug.security import check_password_hash, generate_password_hash

from bot import db
from bot.db.schema import as_utc, login_failures, now_utc, staff_sessions as sessions, staff_users as users

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
USERNAME_RE = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
HASH_METHOD = "scrypt"

# login attempts on one account: USER_FREE within WINDOW are free; after them each attempt locks the
# account for BASE * 2**(n - FREE - 1), at most MAX (see begin_attempt)
USER_FREE = 5
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


def find_user(conn: Connection, name: str):
    return conn.execute(select(users).where(func.lower(users.c.username) == name.lower())).mappings().first()


def add_user(engine: Engine, name: str, password: str, admin: bool = False) -> StaffUser:
    """Create an account; refuses a name already taken (in any letter case)."""
    check_username(name)
    check_password(password, name)
    hashed = hash_password(password)
    with db.write(engine) as conn:
        if find_user(conn, name) is not None:
            raise AccountError(f"A user named {name!r} already exists.")
        now = now_utc()
        conn.execute(insert(users).values(username=name, password_hash=hashed, is_admin=admin, disabled=False,
                                          created_at=now, password_changed_at=now, session_version=1))
        return StaffUser.from_row(find_user(conn, name))


def list_users(engine: Engine) -> list[dict[str, Any]]:
    """Every account (without password hashes), by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(users.c.id, users.c.username, users.c.is_admin, users.c.disabled,
                                   users.c.created_at, users.c.password_changed_at)
                            .order_by(users.c.username)).mappings().all()
        return [dict(r) for r in rows]


def disable_user(engine: Engine, name: str) -> None:
    """Stop an account from logging in; its open sessions end at their next request."""
    with db.write(engine) as conn:
        row = find_user(conn, name)
        if row is None:
            raise AccountError(f"No user named {name!r}.")
        conn.execute(update(users).where(users.c.id == row["id"])
                     .values(disabled=True, session_version=users.c.session_version + 1))
        conn.execute(delete(sessions).where(sessions.c.user_id == row["id"]))


def reset_password(engine: Engine, name: str, password: str) -> None:
    """Set a new password; open sessions of the account end."""
    check_password(password, name)
    hashed = hash_password(password)
    with db.write(engine) as conn:
        row = find_user(conn, name)
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
    with db.write(engine) as conn:
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
    with db.write(engine) as conn:
        if idle > idle_seconds:
            conn.execute(delete(sessions).where(sessions.c.token_hash == key))
            return False
        if idle > TOUCH_EVERY:
            conn.execute(update(sessions).where(sessions.c.token_hash == key).values(last_seen=now))
    return True


def end_session(engine: Engine, token: Any) -> None:
    """Log a session out on the server: its cookie, even a copy, no longer opens anything."""
    if isinstance(token, str) and token:
        with db.write(engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))


def load_user_by_id(engine: Engine, user_id: int) -> StaffUser | None:
    """The active user with this id, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    return None if row is None or row["disabled"] else StaffUser.from_row(row)


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
            row = find_user(conn, name)
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
#
# Every attempt is counted against its account BEFORE the password is checked, in one atomic
# statement (an upsert that adds one), and the password is checked outside any write transaction
# (scrypt takes a while; SQLite has one write lock for every patient's turn too). So N parallel
# guesses count as N: the first USER_FREE are checked; after them one attempt at a time may try,
# each claiming a lock (BASE_LOCK doubling, at most MAX_LOCK) before its check; the others wait.
# A success clears the account's count. Accounts are locked one by one, never by address (staff
# behind one hospital address must not lock each other out): addresses are slowed down by the
# login form's own rate limit instead (bot/staff/views.py).

def _key(name: str) -> str:
    return "user:" + (name or "").lower()[:100]


def _lock_length(count: int) -> dt.timedelta:
    return min(BASE_LOCK * 2 ** max(count - USER_FREE - 1, 0), MAX_LOCK)


def begin_attempt(engine: Engine, name: str, now: dt.datetime | None = None) -> int:
    """Count a login attempt on this account name (known or not: nothing tells which names exist)
    and say whether its password may be checked: 0, or the seconds to wait."""
    now = now or now_utc()
    f = login_failures
    upsert = _dialect_insert(engine)(f).values(key=_key(name), failures=1, last_failure=now, locked_until=None)
    upsert = upsert.on_conflict_do_update(index_elements=[f.c.key], set_={
        "failures": case((f.c.last_failure < now - WINDOW, 1), else_=f.c.failures + 1),
        "last_failure": now}).returning(f.c.failures, f.c.locked_until)
    with db.write(engine) as conn:
        count, locked_until = conn.execute(upsert).one()
    locked_until = as_utc(locked_until)
    if locked_until and locked_until > now:
        return _seconds(locked_until - now)
    if count <= USER_FREE:
        return 0
    # past the free attempts: one attempt at a time, each claiming the next lock before its check
    claim = update(f).where(f.c.key == _key(name), or_(f.c.locked_until.is_(None), f.c.locked_until <= now)) \
        .values(locked_until=now + _lock_length(count))
    with db.write(engine) as conn:
        claimed = conn.execute(claim).rowcount == 1
    if claimed:
        return 0
    with engine.connect() as conn:
        until = as_utc(conn.execute(select(f.c.locked_until).where(f.c.key == _key(name))).scalar())
    return _seconds(until - now) if until and until > now else 1


def _seconds(delta: dt.timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


def _dialect_insert(engine: Engine):
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    return sqlite_insert


def failures_of(engine: Engine, name: str) -> int:
    """How many attempts on this account name are counted now (0 after a success)."""
    with engine.connect() as conn:
        return int(conn.execute(select(login_failures.c.failures)
                                .where(login_failures.c.key == _key(name))).scalar() or 0)


def clear_failures(engine: Engine, name: str) -> None:
    """Forget an account's counted attempts after a successful login."""
    with db.write(engine) as conn:
        conn.execute(login_failures.delete().where(login_failures.c.key == _key(name)))
