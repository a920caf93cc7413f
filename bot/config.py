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

import sys
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from actions.loader import DEFAULT_CRITERIA

PROJECT = Path(__file__).resolve().parent.parent
PREFIX = "PRESCREEN_"


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

    @field_validator("database_url", "criteria", "dialogues", "rate_limits", "login_rate_limit", "ratelimit_storage_url")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("secret_key", "action_endpoint", "secure_cookies", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @classmethod
    def load(cls, environ: dict[str, str] | None = None) -> "Settings":
        """The settings from the environment (or `environ`), or ConfigError naming every bad variable."""
        try:
            if environ is None:
                return cls()
            return cls(**{name[len(PREFIX):].lower(): value for name, value in environ.items()
                          if name.startswith(PREFIX) and name[len(PREFIX):].lower() in cls.model_fields})
        except ValidationError as exc:
            problems = [f"{PREFIX}{str(e['loc'][0]).upper()}: {e['msg']} (got {e.get('input')!r})"
                        for e in exc.errors()]
            raise ConfigError("; ".join(problems)) from None

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
