"""Staff commands of the `prescreen` CLI: users, export.

    prescreen users add NAME [--admin]      password from a prompt, or the first line of stdin
    prescreen users list
    prescreen users disable NAME
    prescreen users reset-password NAME
    prescreen users reset-2fa NAME
    prescreen export --format csv|json|redcap-dictionary|redcap|fhir-questionnaire|fhir
                     [--since DATE] [--outcome X] [--status X] [--language en|es] [--output FILE]

Every account change and every export is written to the audit log.
"""

from __future__ import annotations

import getpass
import sys

import click

from actions.evaluator import Outcome
from bot.cli_support import BAD_INPUT, REFUSED, fail, open_store, settings


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (OSError, KeyError):  # no user name in some containers
        return "cli"


def _read_password(prompt: str = "Password") -> str:
    """From a hidden prompt (asked twice) on a terminal, else the first line of standard input."""
    stdin = sys.stdin
    if stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True)
    line = stdin.readline()
    return line.rstrip("\r\n")


def register(main: click.Group) -> None:
    """Add the staff commands to the `prescreen` group."""
    main.add_command(users)
    main.add_command(export_command)


@click.group()
def users() -> None:
    """Staff accounts for the review screens (/staff/)."""


@users.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May read the audit log.")
def users_add(name: str, admin: bool) -> None:
    """Create an account; the password comes from a prompt or the first line of stdin."""
    from bot.staff import accounts
    try:
        accounts.check_username(name)
    except accounts.AccountError as exc:
        fail(str(exc), REFUSED)
    password = _read_password()
    store = open_store()
    try:
        accounts.add_user(store.engine, name, password, admin)
    except accounts.AccountError as exc:
        fail(str(exc), REFUSED)
    store.add_audit(_actor(), "user_add", name, None, "admin" if admin else "staff")
    click.echo(f"Added {'admin' if admin else 'user'} {name}.", err=True)


@users.command("list")
def users_list() -> None:
    """Every account: name, role, whether disabled, when created."""
    from bot.staff import accounts
    rows = accounts.list_users(open_store().engine)
    if not rows:
        click.echo("No staff accounts yet (prescreen users add NAME).", err=True)
        return
    width = max(len(r["username"]) for r in rows)
    for r in rows:
        role = "admin" if r["is_admin"] else "staff"
        state = "disabled" if r["disabled"] else "active"
        created = r["created_at"].strftime("%Y-%m-%d") if r["created_at"] else ""
        click.echo(f"{r['username']:<{width}}  {role:<5}  {state:<8}  created {created}")


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Stop an account from logging in (its open sessions end)."""
    from bot.staff import accounts
    store = open_store()
    try:
        accounts.disable_user(store.engine, name)
    except accounts.AccountError as exc:
        fail(str(exc), REFUSED)
    store.add_audit(_actor(), "user_disable", name)
    click.echo(f"Disabled {name}.", err=True)


@users.command("reset-password")
@click.argument("name")
def users_reset_password(name: str) -> None:
    """Set a new password (prompt or first line of stdin); open sessions end."""
    from bot.staff import accounts
    password = _read_password("New password")
    store = open_store()
    try:
        accounts.reset_password(store.engine, name, password)
    except accounts.AccountError as exc:
        fail(str(exc), REFUSED)
    store.add_audit(_actor(), "user_reset_password", name)
    click.echo(f"New password set for {name}.", err=True)


@users.command("reset-2fa")
@click.argument("name")
def users_reset_2fa(name: str) -> None:
    """Forget an account's two-factor sign-in (a lost phone); it enrols again at its next log-in."""
    from bot.staff import accounts, twofactor
    store = open_store()
    with store.engine.connect() as conn:
        row = accounts.find_user(conn, name)
    if row is None:
        fail(f"No user named {name!r}.", REFUSED)
    twofactor.reset(store.engine, row["id"])
    store.add_audit(_actor(), "user_reset_2fa", name)
    click.echo(f"Two-factor sign-in reset for {name}: they set it up again at their next log-in.", err=True)


EXPORT_FORMATS = ("csv", "json", "redcap-dictionary", "redcap", "fhir-questionnaire", "fhir")


@click.command("export")
@click.option("--format", "kind", type=click.Choice(EXPORT_FORMATS), required=True,
              help="csv, json: the conversations; redcap-dictionary: a REDCap data dictionary made from the criteria "
                   "file; redcap: the conversations as records for it; fhir-questionnaire: a FHIR R4 Questionnaire "
                   "made from the criteria file; fhir: the conversations as a Bundle of QuestionnaireResponses.")
@click.option("--since", default=None, help="Only conversations started on or after this site date (YYYY-MM-DD).")
@click.option("--outcome", default=None, help=", ".join(o.value for o in reversed(Outcome)) + " or none.")
@click.option("--status", default=None, help="Follow-up status: new, contacted, screening_visit_scheduled, enrolled, "
                                             "not_a_fit, could_not_reach.")
@click.option("--language", default=None, help="The conversation's language: en or es.")
@click.option("--output", default=None, type=click.Path(dir_okay=False, writable=True),
              help="Write to this file (default: standard output).")
def export_command(kind: str, since: str | None, outcome: str | None, status: str | None, language: str | None,
                   output: str | None) -> None:
    """Export the conversations as CSV (one row each), JSON (transcripts and results), REDCap records or
    FHIR QuestionnaireResponses; or the REDCap data dictionary or FHIR Questionnaire of the criteria file."""
    from actions.trial import TrialError, load_trial
    from bot.dialogue import DialogueError, load_dialogue
    from bot.staff.export import FORMAT_ERRORS, FORMATS, audit_detail, export_chunks
    from bot.staff.queries import Filters

    filters, problems = Filters.from_args({"from": since or "", "outcome": outcome or "", "status": status or "",
                                           "language": language or ""})
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(BAD_INPUT)
    try:
        trial = load_trial(settings().criteria)
        dialogue = load_dialogue(settings().dialogues, trial)
    except TrialError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(BAD_INPUT)
    except DialogueError as exc:
        fail(str(exc))
    store = open_store()
    try:
        chunks = export_chunks(kind, store.engine, trial, filters, dialogue)
    except FORMAT_ERRORS as exc:
        fail(str(exc))
    what = audit_detail(filters) if FORMATS[kind].of_conversations else "the criteria file"
    store.add_audit(_actor(), "export", kind, None, what + (f"; to {output}" if output else ""))
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            for chunk in chunks:
                fh.write(chunk)
        click.echo(f"Wrote {output}.", err=True)
    else:
        out = sys.stdout
        for chunk in chunks:
            out.write(chunk)
        out.flush()
