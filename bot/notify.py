"""Notifications to the study team (issue 16, part 4): the sender of the `notifications` outbox.

A patient's turn only writes a row into the outbox, in the turn's own transaction
(`bot.store.TurnConnection._work`: a conversation that first needs a person, or a new contact
request). Sending happens here, never inside a turn: `prescreen notify` (`--once`, or a loop), or a
background thread of the web server process (PRESCREEN_NOTIFY_IN_SERVER=1).

- **Channels**: e-mail (smtplib, STARTTLS by default) and/or a webhook (a JSON POST with
  urllib, signed with HMAC-SHA256 when a secret is set). Neither set: notifications are off, the
  sender does nothing and the rows stay in the outbox, unsent.
- **No health data in any message**: the trial (id and short title), the category in plain words
  ("needs review", "contact requested"), the conversation's reference code, the time, and a link
  to `<PRESCREEN_STAFF_BASE_URL>/staff/r/<reference>` (a staff page: it needs a login). Never the
  conversation id (the patient's credential), a name, a phone number, an answer or the patient's
  words.
- **Once per row, across processes**: a row is claimed in a short transaction before it is sent
  (PostgreSQL: `FOR UPDATE SKIP LOCKED`; on every database a conditional UPDATE that counts the
  attempt and sets `next_try_at` to a lease, checked by its row count). A sender that dies mid-way
  leaves the lease to expire, and the row is tried again.
- **Retries**: a failed channel is recorded in `last_error` (the error's text only: what the
  server or the network said) and tried again after a growing pause (`backoff`), only that channel
  (a delivered e-mail is not sent again because the webhook failed); after
  PRESCREEN_NOTIFY_MAX_ATTEMPTS the row stays unsent with its error, and the log says so.
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import os
import smtplib
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine

from bot import db
from bot.db.schema import as_utc, conversations, notifications, now_utc

log = logging.getLogger("prescreen.notify")

# the category of a notification's reason, in plain words (the store's reasons: an outcome that
# needs a person, or contact_requested)
CATEGORIES = {
    "likely_eligible": "likely eligible",
    "eligible_after_washout": "eligible after a washout",
    "needs_review": "needs review",
    "contact_requested": "contact requested",
}
EMAIL, WEBHOOK = "e-mail", "webhook"          # the channels, as last_error names them
SIGNATURE_HEADER = "X-Prescreen-Signature"    # sha256=<hex HMAC-SHA256 of the body>
DELIVERY_HEADER = "X-Prescreen-Delivery"      # the outbox row's id: the same on a retry
TIMEOUT = 10.0                                # seconds for one SMTP session or webhook call
LEASE = dt.timedelta(minutes=5)               # a claimed row is not claimed again before this
BATCH = 50                                    # rows claimed at once
ERROR_LENGTH = 300


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed try: 1 minute, doubling, at most 6 hours."""
    return float(min(60 * 2 ** max(attempts - 1, 0), 6 * 3600))


class DeliveryError(Exception):
    """A channel did not take the message; the text says why (never any content of it)."""


@dataclass(frozen=True)
class Channels:
    """Where notifications go, from the Flask config keys of `Settings.flask_config()`."""

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    webhook_url: str | None = field(default=None, repr=False)   # may hold a token of the receiver's
    webhook_secret: str | None = field(default=None, repr=False)
    staff_base_url: str | None = None
    max_attempts: int = 10

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "Channels":
        def secret(key: str) -> str | None:
            value = cfg.get(key)
            value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            return value or None
        to = cfg.get("NOTIFY_EMAIL_TO") or ""
        return cls(smtp_host=cfg.get("NOTIFY_SMTP_HOST") or None, smtp_port=int(cfg.get("NOTIFY_SMTP_PORT") or 587),
                   smtp_starttls=bool(cfg.get("NOTIFY_SMTP_STARTTLS", True)), smtp_user=cfg.get("NOTIFY_SMTP_USER") or None,
                   smtp_password=secret("NOTIFY_SMTP_PASSWORD"), email_from=cfg.get("NOTIFY_EMAIL_FROM") or None,
                   email_to=tuple(a.strip() for a in (to.split(",") if isinstance(to, str) else to) if a.strip()),
                   webhook_url=cfg.get("NOTIFY_WEBHOOK_URL") or None, webhook_secret=secret("NOTIFY_WEBHOOK_SECRET"),
                   staff_base_url=(cfg.get("STAFF_BASE_URL") or "").rstrip("/") or None,
                   max_attempts=int(cfg.get("NOTIFY_MAX_ATTEMPTS") or 10))

    @property
    def names(self) -> tuple[str, ...]:
        """The channels that are set up."""
        return tuple(name for name, on in ((EMAIL, self.smtp_host and self.email_to and self.email_from),
                                           (WEBHOOK, self.webhook_url)) if on)


@dataclass(frozen=True)
class Notice:
    """What one notification says; nothing in it is health data."""

    id: int
    trial_id: str
    trial_title: str | None
    reason: str
    reference: str | None
    created_at: dt.datetime        # in the site's zone
    link: str | None

    @property
    def category(self) -> str:
        return CATEGORIES.get(self.reason, self.reason.replace("_", " "))

    @property
    def trial(self) -> str:
        return f"{self.trial_title} ({self.trial_id})" if self.trial_title else self.trial_id

    def payload(self) -> dict[str, Any]:
        """The webhook's JSON object."""
        return {"trial": {"id": self.trial_id, "short_title": self.trial_title}, "reason": self.reason,
                "category": self.category, "reference": self.reference, "link": self.link,
                "created_at": self.created_at.isoformat(timespec="seconds")}

    def body(self) -> bytes:
        return json.dumps(self.payload(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def text(self) -> str:
        """The e-mail's text."""
        where = (f"Open it (staff login needed):\n{self.link}" if self.link else
                 "Open the staff pages of the prescreen chatbot and search for the reference code"
                 + (f" {self.reference}" if self.reference else "") + " (the work queue lists it too).")
        when = f"{self.created_at:%Y-%m-%d %H:%M} {self.created_at.tzname() or ''}".rstrip()
        return (f"A prescreen conversation needs the study team.\n\n"
                f"Trial:     {self.trial}\n"
                f"Category:  {self.category}\n"
                f"Reference: {self.reference or 'none'}\n"
                f"When:      {when}\n\n"
                f"{where}\n\n"
                f"This message holds no health data: the answers and any contact details are on the staff "
                f"page only.\n")

    def email(self, channels: Channels) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = f"Prescreen: {self.category} ({self.reference or 'no reference'}), " \
                             f"{self.trial_title or self.trial_id}"
        message["From"] = channels.email_from
        message["To"] = ", ".join(channels.email_to)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid("prescreen")
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(self.text())
        return message


def signature(secret: str, body: bytes) -> str:
    """The webhook signature header's value: `sha256=<hex HMAC-SHA256 of the body>`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _error_text(exc: BaseException) -> str:
    """An exception in a line: its type and what it said (a server's reply or a network error)."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:ERROR_LENGTH]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is not a delivery (and the body must not go to another address)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):   # noqa: D401
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def send_email(channels: Channels, notice: Notice, timeout: float = TIMEOUT) -> None:
    message = notice.email(channels)
    try:
        with smtplib.SMTP(channels.smtp_host, channels.smtp_port, timeout=timeout) as smtp:
            if channels.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if channels.smtp_user:
                smtp.login(channels.smtp_user, channels.smtp_password or "")
            refused = smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(_error_text(exc)) from None
    if refused:
        raise DeliveryError(f"{len(refused)} of {len(channels.email_to)} recipient(s) refused")


def call_webhook(channels: Channels, notice: Notice, timeout: float = TIMEOUT) -> None:
    body = notice.body()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "prescreen-notify",
               DELIVERY_HEADER: str(notice.id)}
    if channels.webhook_secret:
        headers[SIGNATURE_HEADER] = signature(channels.webhook_secret, body)
    request = urllib.request.Request(channels.webhook_url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:     # a non-2xx answer (3xx too: redirects are not followed)
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}"[:ERROR_LENGTH]) from None
    except urllib.error.URLError as exc:      # no answer: refused, unreachable, TLS, a bad name
        reason = exc.reason
        raise DeliveryError(_error_text(reason) if isinstance(reason, BaseException) else
                            f"URLError: {reason}"[:ERROR_LENGTH]) from None
    except (OSError, ValueError, http.client.HTTPException) as exc:   # a timeout, a garbled answer
        raise DeliveryError(_error_text(exc)) from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")


def failed_channels(last_error: str | None) -> set[str]:
    """The channels a row's last_error names (`<channel>: <error>; ...`): those still to deliver."""
    found = set()
    for part in (last_error or "").split("; "):
        name = part.split(":", 1)[0]
        if name in (EMAIL, WEBHOOK):
            found.add(name)
    return found


@dataclass
class Round:
    """What one round of sending did."""

    sent: int = 0
    failed: int = 0      # to be tried again later
    gave_up: int = 0     # failed for the last allowed time

    def __str__(self) -> str:
        return f"sent {self.sent}, failed {self.failed} (tried again later), gave up on {self.gave_up}"


@dataclass
class _Claimed:
    id: int
    attempts: int         # this try included
    last_error: str | None
    notice: Notice


class Sender:
    """Delivers the outbox's pending rows over the configured channels.

    `trial` gives the short title and the site's time zone; `backoff(attempts)` the seconds before a
    failed row is tried again; `clock` the time (tests inject both)."""

    def __init__(self, engine: Engine, channels: Channels, trial=None, *,
                 backoff: Callable[[int], float] = backoff, clock: Callable[[], dt.datetime] = now_utc,
                 timeout: float = TIMEOUT, lease: dt.timedelta = LEASE) -> None:
        self.engine, self.channels, self.trial = engine, channels, trial
        self.backoff, self.clock, self.timeout, self.lease = backoff, clock, timeout, lease
        self.zone = trial.zone if trial is not None else ZoneInfo("UTC")
        english = trial.for_language("en") if trial is not None else None
        self.titles = {english.id: english.model.short_title} if english is not None else {}
        self._senders = {EMAIL: send_email, WEBHOOK: call_webhook}

    @property
    def enabled(self) -> bool:
        return bool(self.channels.names)

    # -- one round ------------------------------------------------------------------------
    def run_once(self) -> Round:
        """Claim what is due, deliver it, record each outcome; until nothing is due (the rows that
        fail meanwhile wait for their next try). Notifications off: nothing."""
        done = Round()
        if not self.enabled:
            return done
        after: int | None = 0   # a row that fails in this round waits for a later one, whatever its backoff
        while True:
            claimed, after = self._claim(BATCH, after)
            for row in claimed:
                self._deliver(row, done)
            if after is None:
                return done

    def _due(self, now: dt.datetime, after: int = 0):
        n = notifications.c
        return (select(n.id, n.attempts, n.last_error, n.reason, n.created_at, conversations.c.trial_id,
                       conversations.c.reference)
                .join(conversations, conversations.c.id == n.conversation_id)
                .where(n.id > after, n.sent_at.is_(None), n.attempts < self.channels.max_attempts,
                       or_(n.next_try_at.is_(None), n.next_try_at <= now))
                .order_by(n.id))

    def _claim_one(self, conn, row, now: dt.datetime) -> bool:
        """The conditional UPDATE: only if no other sender counted an attempt or set a lease since
        the row was read (its row count says which sender won)."""
        n = notifications.c
        won = conn.execute(update(notifications).where(
            n.id == row.id, n.sent_at.is_(None), n.attempts == row.attempts,
            or_(n.next_try_at.is_(None), n.next_try_at <= now))
            .values(attempts=row.attempts + 1, next_try_at=now + self.lease))
        return won.rowcount == 1

    def claim(self, limit: int = BATCH) -> list[_Claimed]:
        """Claim up to `limit` due rows in one short transaction; the rows this sender won."""
        return self._claim(limit)[0]

    def _claim(self, limit: int, after: int = 0) -> tuple[list[_Claimed], int | None]:
        """The rows won among the first `limit` due ones with ids above `after`, and the last id read
        (None: none was due)."""
        now = self.clock()
        query = self._due(now, after).limit(limit)
        if self.engine.dialect.name == "postgresql":
            # rows another sender holds are skipped, not waited for; the conversation is not locked
            with self.engine.begin() as conn:
                rows = conn.execute(query.with_for_update(skip_locked=True, of=notifications)).all()
                won = [row for row in rows if self._claim_one(conn, row, now)]
        else:
            with self.engine.connect() as conn:   # nothing due (the usual case): no write lock at all
                rows = conn.execute(query).all()
            if not rows:
                return [], None
            with db.write(self.engine) as conn:
                won = [row for row in rows if self._claim_one(conn, row, now)]
        return ([_Claimed(row.id, row.attempts + 1, row.last_error, self._notice(row)) for row in won],
                rows[-1].id if rows else None)

    def _notice(self, row) -> Notice:
        base = self.channels.staff_base_url
        link = f"{base}/staff/r/{row.reference}" if base and row.reference else None
        return Notice(id=row.id, trial_id=row.trial_id, trial_title=self.titles.get(row.trial_id),
                      reason=row.reason, reference=row.reference,
                      created_at=as_utc(row.created_at).astimezone(self.zone), link=link)

    def _deliver(self, row: _Claimed, done: Round) -> None:
        configured = self.channels.names
        # a retry sends only what failed before (nothing recorded: a first try, or a sender that stopped)
        still = failed_channels(row.last_error) & set(configured) or set(configured)
        errors = []
        for name in configured:
            if name not in still:
                continue
            try:
                self._senders[name](self.channels, row.notice, self.timeout)
            except DeliveryError as exc:
                errors.append(f"{name}: {exc}")
            except Exception as exc:   # noqa: BLE001  a bug or an odd server: recorded like a failure
                errors.append(f"{name}: {_error_text(exc)}")
        now = self.clock()
        n = notifications.c
        if not errors:
            values = dict(sent_at=now, next_try_at=None, last_error=None)
            done.sent += 1
        else:
            error = "; ".join(errors)[:1000]
            final = row.attempts >= self.channels.max_attempts
            retry_at = None if final else now + dt.timedelta(seconds=max(self.backoff(row.attempts), 0.0))
            values = dict(next_try_at=retry_at, last_error=error)
            if final:
                done.gave_up += 1
                log.error("notification %s not sent after %s attempts, given up (it stays in the outbox): %s",
                          row.id, row.attempts, error)
            else:
                done.failed += 1
                log.warning("notification %s: attempt %s failed, next try at %s: %s", row.id, row.attempts,
                            retry_at.isoformat(timespec="seconds"), error)
        with db.write(self.engine) as conn:
            conn.execute(update(notifications).where(n.id == row.id).values(**values))

    # -- rounds, again and again ----------------------------------------------------------------
    def run(self, interval: float, stop: threading.Event) -> None:
        """A round now, then one every `interval` seconds until `stop` is set; a round that fails
        (the database unreachable) is logged by type and the next one tries again."""
        while not stop.is_set():
            try:
                done = self.run_once()
                if done.sent or done.failed or done.gave_up:
                    log.info("notifications: %s", done)
            except Exception as exc:   # noqa: BLE001  the loop must outlive a bad moment of the database
                log.error("a round of notifications failed: %s", type(exc).__name__)
            stop.wait(interval)


class Background:
    """The sender as a daemon thread of the web server process (PRESCREEN_NOTIFY_IN_SERVER=1), one per
    process: gunicorn's workers are forked from the process that built the app, and a thread does
    not cross a fork, so `start()` starts it in whichever process calls it (again after a fork)."""

    def __init__(self, sender: Sender, interval: float) -> None:
        self.sender, self.interval = sender, interval
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self.sender.run, args=(self.interval, self._stop),
                                            name="prescreen-notify", daemon=True)
            self._thread.start()
            self._pid = os.getpid()
            atexit.register(self.stop)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._pid == os.getpid() and self._thread is not None and self._thread.is_alive()


def sender_for(app, **options: Any) -> Sender:
    """The sender of a Flask app: its config's channels, its database, its trial."""
    return Sender(app.extensions["prescreen_store"].engine, Channels.from_config(app.config),
                  app.extensions.get("prescreen_trial"), **options)


def init_app(app) -> None:
    """With NOTIFY_IN_SERVER and a channel set up, a background sender for this app, started in the
    serving process: by `start(app)` (gunicorn's post_worker_init, `prescreen serve`) or, at the
    latest, before the process's first request (a one-line check afterwards)."""
    if not app.config.get("NOTIFY_IN_SERVER"):
        return
    sender = sender_for(app)
    if not sender.enabled:
        log.warning("PRESCREEN_NOTIFY_IN_SERVER is on, but no notification channel is set up: nothing is sent")
        return
    background = app.extensions["prescreen_notify"] = Background(
        sender, float(app.config.get("NOTIFY_INTERVAL_SECONDS") or 10.0))
    app.before_request(background.start)


def start(app) -> None:
    """Start the app's background sender in this process, if it has one."""
    background = app.extensions.get("prescreen_notify")
    if background is not None:
        background.start()
