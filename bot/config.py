"""The runtime's configuration: every `PRESCREEN_*` environment variable, read
here and nowhere else in `bot/` (the stock action server, which runs without
`bot`, reads only PRESCREEN_CRITERIA, in `actions/loader.py`).

`Settings` (pydantic-settings) parses and checks the variables; a bad value is
refused with the variable's name and what it expects. `Settings.flask_config()`
gives the Flask config keys the app and its blueprints read; the store, the
runner, the CLI and the widget all get their values from there. Each default
is written once, below. README's configuration table is generated from this
class (`python -m bot.config`), and a test checks that the two agree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from actions.loader import DEFAULT_CRITERIA

PROJECT = Path(__file__).resolve().parent.parent
PREFIX = "PRESCREEN_"
# an e-mail address as the notification settings take it: local@domain.tld, no name, no spaces
EMAIL_ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+")


def email_addresses(value: str) -> list[str]:
    """The comma-separated addresses of a setting, each checked (ValueError naming the bad one)."""
    addresses = [part.strip() for part in value.split(",") if part.strip()]
    for address in addresses:
        if not EMAIL_ADDRESS.fullmatch(address):
            raise ValueError(f"{address!r} is not an e-mail address (name@example.org; several: comma-separated)")
    return addresses


def web_address(value: str) -> str:
    """An http(s) URL with a host, without spaces or control characters (ValueError otherwise)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(ch.isspace() or ord(ch) < 32 or
                                                                           ord(ch) == 127 for ch in value):
        raise ValueError("must be an http:// or https:// address with a host name")
    return value


class ConfigError(Exception):
    """An environment variable with a value the bot cannot use; the message names it."""


class Settings(BaseSettings):
    """The bot's settings, from the PRESCREEN_* environment variables."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True)

    database_url: str = Field(
        "sqlite:///var/prescreen.sqlite3",
        description="SQLAlchemy URL; `postgresql://user:pw@host/db` for PostgreSQL (psycopg 3). A relative "
                    "SQLite path is relative to the working directory; its folder is created")
    auto_upgrade: bool = Field(
        True, description="create or upgrade the database schema on start (`0`: refuse to start on an "
                          "out-of-date database until `prescreen db upgrade` is run)")
    criteria: str = Field(DEFAULT_CRITERIA, description="the trial's criteria file")
    dialogues: str = Field(str(PROJECT / "dialogues"), description="the folder of the dialogue files "
                                                                   "(domain.yml, rules.yml, nlu.yml)")
    secret_key: str | None = Field(
        None, description="signs staff sessions; set it in production (the same on every worker and host). "
                          "Unset: a random key kept in `var/secret_key`")
    action_endpoint: str | None = Field(
        None, description="e.g. `http://127.0.0.1:5055/webhook`: call the rasa-sdk action server. Unset: the "
                          "actions run in process")
    action_timeout: float = Field(10.0, gt=0, description="seconds before an action-server call counts as "
                                                          "failed (the turn is rolled back, 503)")
    db_busy_timeout_ms: int = Field(
        5000, ge=0, description="how long a turn's write waits for the database (SQLite's write lock, "
                                "PostgreSQL's row lock) before the patient is asked to try again (503)")
    max_message_length: int = Field(2000, gt=0, description="longest patient message in characters (longer: "
                                                            "400); the widget's input takes its limit from it")
    max_body_bytes: int = Field(65536, gt=0, description="largest request body (larger: 413)")
    allowed_origins: str = Field(
        "", description="comma-separated origins (`https://www.example-hospital.org`) whose pages may embed "
                        "the widget (CORS); other sites are refused")
    rate_limits: str = Field(
        "120 per minute;3000 per hour|40 per minute",
        description="Flask-Limiter strings for the chat endpoint: per client address, then (after `|`) per "
                    "conversation; answered with 429 and `Retry-After`; `off` disables them (tests, benchmarks, "
                    "outside checks)")
    login_rate_limit: str = Field(
        "20 per minute", description="Flask-Limiter string for staff log-in attempts per client address (it slows "
                                     "an address down; accounts are locked one by one, never by address); off with "
                                     "`PRESCREEN_RATE_LIMITS=off`")
    ratelimit_storage_url: str = Field(
        "memory://", description="where the limits count: `redis://host:6379/0` when several workers or "
                                 "hosts serve")
    trusted_proxies: int = Field(0, ge=0, description="how many proxies in front add `X-Forwarded-For`; only "
                                                      "then is the client address taken from it")
    secure_cookies: bool | None = Field(
        None, description="`1`: staff cookies only over HTTPS (behind a proxy that ends TLS); `0`: never "
                          "Secure. Unset: Secure when the request came over HTTPS")
    forget_delay_seconds: float = Field(
        60.0, ge=0, le=300, description="after a deletion or purge, the longest wait before the words left in the "
                                        "full-text index and the write-ahead log are cleared (at most 300)")
    require_2fa: bool = Field(False, description="`1`: every staff user needs two-factor sign-in (TOTP); admins "
                                                 "always do")
    staff_idle_minutes: float = Field(30.0, gt=0, description="staff sessions end after this many idle minutes")
    # notifications to the study team (bot/notify.py; README "Notifications"): no health data in them
    staff_base_url: str | None = Field(
        None, description="the staff pages' public address, e.g. `https://prescreen.example.org`: notifications "
                          "link to `<it>/staff/r/<reference>`. Unset: they say where to look, without a link")
    notify_smtp_host: str | None = Field(
        None, description="SMTP server that sends the study team an e-mail when a conversation first needs a "
                          "person. Unset (and no webhook): notifications are off, the outbox rows are kept unsent")
    notify_smtp_port: int = Field(587, ge=1, le=65535, description="the SMTP server's port")
    notify_smtp_starttls: bool = Field(True, description="`1`: STARTTLS before logging in and sending (certificate "
                                                         "checked); `0`: plain SMTP (a relay on the same host only)")
    notify_smtp_user: str | None = Field(None, description="SMTP login name (unset: no login)")
    notify_smtp_password: SecretStr | None = Field(
        None, description="SMTP password: a secret, from the environment only (never in a file of the project); "
                          "never logged or shown")
    notify_email_from: str | None = Field(None, description="the notification e-mails' From address")
    notify_email_to: str = Field("", description="comma-separated addresses of the study team that get the "
                                                 "notification e-mails")
    notify_webhook_url: str | None = Field(
        None, description="`http(s)://` URL that gets a JSON POST per notification (any 2xx: delivered). Unset: no "
                          "webhook")
    notify_webhook_secret: SecretStr | None = Field(
        None, description="signs each webhook body: header `X-Prescreen-Signature: sha256=<HMAC-SHA256 of the "
                          "body, hex>`; a secret, never logged")
    notify_max_attempts: int = Field(10, ge=1, le=100, description="tries per notification (growing pauses "
                                                                    "between them); then it stays unsent with its "
                                                                    "error, and the log says so")
    notify_in_server: bool = Field(False, description="`1`: the web server process sends notifications itself (a "
                                                      "background thread); `0`: run `prescreen notify`")
    notify_interval_seconds: float = Field(10.0, gt=0, le=3600, description="how often the sender looks for "
                                                                             "notifications to send")

    @field_validator("database_url", "criteria", "dialogues", "rate_limits", "login_rate_limit", "ratelimit_storage_url")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("secret_key", "action_endpoint", "secure_cookies", "staff_base_url", "notify_smtp_host",
                     "notify_smtp_user", "notify_smtp_password", "notify_email_from", "notify_webhook_url",
                     "notify_webhook_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("notify_smtp_host", "notify_smtp_user")
    @classmethod
    def _stripped(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    @field_validator("notify_email_from")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        addresses = email_addresses(value)
        if len(addresses) != 1:
            raise ValueError("must be one e-mail address")
        return addresses[0]

    @field_validator("notify_email_to")
    @classmethod
    def _addresses(cls, value: str) -> str:
        return ", ".join(email_addresses(value))

    @field_validator("notify_webhook_url", "staff_base_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        return web_address(value.strip()) if value is not None else None

    @field_validator("staff_base_url")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if urlsplit(value).query or urlsplit(value).fragment:
            raise ValueError("must be the address the staff pages are served under, without ? or #")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _notifications_complete(self) -> "Settings":
        """E-mail needs a server, a sender and recipients together; a login needs its password."""
        email = {"NOTIFY_SMTP_HOST": self.notify_smtp_host, "NOTIFY_EMAIL_FROM": self.notify_email_from,
                 "NOTIFY_EMAIL_TO": self.notify_email_to}
        given = [name for name, value in email.items() if value]
        if given and len(given) < len(email):
            missing = ", ".join(PREFIX + name for name in email if name not in given)
            raise ValueError(f"{missing}: needed for notification e-mails (set with {PREFIX}{given[0]})")
        if (self.notify_smtp_user is None) != (self.notify_smtp_password is None):
            raise ValueError(f"{PREFIX}NOTIFY_SMTP_USER and {PREFIX}NOTIFY_SMTP_PASSWORD: set both or neither")
        if self.notify_smtp_user and not self.notify_smtp_host:
            raise ValueError(f"{PREFIX}NOTIFY_SMTP_USER: set without {PREFIX}NOTIFY_SMTP_HOST")
        if self.notify_webhook_secret and not self.notify_webhook_url:
            raise ValueError(f"{PREFIX}NOTIFY_WEBHOOK_SECRET: set without {PREFIX}NOTIFY_WEBHOOK_URL")
        return self

    @classmethod
    def load(cls, environ: dict[str, str] | None = None) -> "Settings":
        """The settings from the environment (or `environ`), or ConfigError naming every bad variable."""
        try:
            if environ is None:
                return cls()
            return cls(**{name[len(PREFIX):].lower(): value for name, value in environ.items()
                          if name.startswith(PREFIX) and name[len(PREFIX):].lower() in cls.model_fields})
        except ValidationError as exc:
            raise ConfigError("; ".join(cls._problem(e) for e in exc.errors())) from None

    @classmethod
    def _problem(cls, error: dict[str, Any]) -> str:
        """One bad variable in words: its name, what it expects and (unless it is a secret) what it got."""
        if not error["loc"]:   # a check of several variables together names them itself
            return error["msg"].removeprefix("Value error, ")
        name = str(error["loc"][0])
        field = cls.model_fields.get(name)
        secret = field is not None and "SecretStr" in str(field.annotation)
        got = "(value hidden)" if secret else f"(got {error.get('input')!r})"
        return f"{PREFIX}{name.upper()}: {error['msg'].removeprefix('Value error, ')} {got}"

    def flask_config(self) -> dict[str, Any]:
        """The Flask config keys the app reads (tests override them with `create_app(test_config)`)."""
        return {
            "DATABASE_URL": self.database_url,
            "AUTO_UPGRADE": self.auto_upgrade,
            "CRITERIA": self.criteria,
            "DIALOGUES": self.dialogues,
            "SECRET_KEY": self.secret_key,
            "ACTION_ENDPOINT": self.action_endpoint,
            "ACTION_TIMEOUT": self.action_timeout,
            "DB_BUSY_TIMEOUT_MS": self.db_busy_timeout_ms,
            "MAX_MESSAGE_LENGTH": self.max_message_length,
            "MAX_CONTENT_LENGTH": self.max_body_bytes,
            "ALLOWED_ORIGINS": self.allowed_origins,
            "RATE_LIMITS": self.rate_limits,
            "LOGIN_RATE_LIMIT": self.login_rate_limit,
            "FORGET_DELAY_SECONDS": self.forget_delay_seconds,
            "REQUIRE_2FA": self.require_2fa,
            "RATELIMIT_STORAGE_URL": self.ratelimit_storage_url,
            "TRUSTED_PROXIES": self.trusted_proxies,
            "SECURE_COOKIES": self.secure_cookies,
            "STAFF_IDLE_MINUTES": self.staff_idle_minutes,
            "STAFF_BASE_URL": self.staff_base_url,
            "NOTIFY_SMTP_HOST": self.notify_smtp_host,
            "NOTIFY_SMTP_PORT": self.notify_smtp_port,
            "NOTIFY_SMTP_STARTTLS": self.notify_smtp_starttls,
            "NOTIFY_SMTP_USER": self.notify_smtp_user,
            "NOTIFY_SMTP_PASSWORD": self.notify_smtp_password,   # a SecretStr: its repr hides it
            "NOTIFY_EMAIL_FROM": self.notify_email_from,
            "NOTIFY_EMAIL_TO": self.notify_email_to,
            "NOTIFY_WEBHOOK_URL": self.notify_webhook_url,
            "NOTIFY_WEBHOOK_SECRET": self.notify_webhook_secret,
            "NOTIFY_MAX_ATTEMPTS": self.notify_max_attempts,
            "NOTIFY_IN_SERVER": self.notify_in_server,
            "NOTIFY_INTERVAL_SECONDS": self.notify_interval_seconds,
            "ALLOW_TODAY": False,   # tests only: metadata.today pins the site date
        }


def markdown_table() -> str:
    """README's configuration table, from the fields above."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if name == "dialogues":
            shown = "`dialogues/` of the project"
        elif default is None:
            shown = "unset"
        elif isinstance(default, bool):
            shown = "`1`" if default else "`0`"
        elif default == "":
            shown = "none"
        else:
            shown = f"`{default}`"
        cells = (f"`{PREFIX}{name.upper()}`", shown, field.description or "")
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":   # python -m bot.config: the table for README
    sys.stdout.write(markdown_table() + "\n")
