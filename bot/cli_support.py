"""What every `prescreen` command shares: the settings, the store, and one
policy for failing.

Exit codes (every command):
- 0: done (for `check`, warnings allowed);
- 1: refused: the command understood its input but what it asks cannot be done
  or is wrong (a criteria file with problems for `check`, a user that exists
  already or does not exist, a password too weak);
- 2: the input could not be used: a bad option or argument (click's own usage
  errors exit 2 too), an unreadable or invalid file, a bad PRESCREEN_*
  variable, a database that cannot be opened or is out of date.
The message goes to standard error as `error: …`; standard output keeps only
what the command prints on success (JSON for `evaluate`, `parse`, `export`).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from bot.config import ConfigError, Settings

REFUSED = 1
BAD_INPUT = 2


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    """Print `error: message` on standard error and exit with `code`."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def settings() -> Settings:
    """The PRESCREEN_* settings, or exit 2 naming the bad variable."""
    try:
        return Settings.load()
    except ConfigError as exc:
        fail(str(exc))


def create_app_or_fail():
    """The Flask app from the settings, or exit 2 with why it cannot start."""
    from sqlalchemy.exc import SQLAlchemyError

    from actions.trial import TrialError
    from bot.app import create_app
    from bot.db import SchemaOutOfDate
    from bot.dialogue import DialogueError
    try:
        return create_app(settings=settings())
    except TrialError as exc:
        fail("cannot start: the criteria file has problems:\n" + "\n".join(exc.problems))
    except (DialogueError, SchemaOutOfDate) as exc:
        fail(f"cannot start: {exc}")
    except OSError as exc:
        fail(f"cannot start: {exc} (run from the project folder, or set PRESCREEN_CRITERIA)")
    except SQLAlchemyError as exc:
        fail(f"cannot start: cannot open the database: {type(exc).__name__}: {str(exc).splitlines()[0]}")


def open_store():
    """The store the settings name, its schema created or upgraded (unless PRESCREEN_AUTO_UPGRADE=0)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.app import open_store as open_for
    from bot.db import SchemaOutOfDate
    try:
        return open_for(settings().flask_config())
    except SchemaOutOfDate as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {type(exc).__name__}: {str(exc).splitlines()[0]}")
