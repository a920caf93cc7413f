"""The `prescreen` command line.

Commands that print JSON print only JSON on standard output; warnings and
errors go to standard error.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from actions.evaluator import AnswersError, Outcome, check_answers, evaluate
from actions.translations import LANGUAGE_NAMES
from actions.trial import Trial, TrialError, load_trial
from bot.cli_support import BAD_INPUT, REFUSED, create_app_or_fail, fail, open_store, settings
from bot.staff.cli import register as register_staff_commands


def default_criteria() -> str:
    """The criteria file of the settings (PRESCREEN_CRITERIA)."""
    return settings().criteria


def _load(path: str, exit_code: int) -> Trial:
    try:
        return load_trial(path)
    except TrialError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(exit_code)


def _today(value: str | None, trial: Trial) -> dt.date:
    if value is None:
        return trial.today()
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param_hint="--today")


@click.group()
def main() -> None:
    """Prescreen patients for a clinical trial described by a criteria file."""


@main.command()
@click.argument("file", required=False)
def check(file: str | None) -> None:
    """Check a criteria file: exit 0 (warnings allowed) or 1 listing every problem."""
    path = file or default_criteria()
    trial = _load(path, REFUSED)
    for warning in trial.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{path}: OK ({trial.id} version {trial.model.version}: {len(trial.questions)} questions,"
               f" {len(trial.criteria())} criteria)")


@main.command("evaluate")
@click.option("--criteria", "criteria_path", default=None, help="Criteria file (default: PRESCREEN_CRITERIA or criteria.yaml).")
@click.option("--today", default=None, help="The site date to evaluate on, YYYY-MM-DD (default: today at the site).")
@click.argument("answers_file", type=click.Path(dir_okay=False, allow_dash=True))
def evaluate_command(criteria_path: str | None, today: str | None, answers_file: str) -> None:
    """Print the prescreen result for ANSWERS.json (answer id -> value; null = unknown)."""
    trial = _load(criteria_path or default_criteria(), BAD_INPUT)
    day = _today(today, trial)
    try:
        with click.open_file(answers_file, encoding="utf-8") as fh:
            raw = json.load(fh)
    except OSError as exc:
        fail(f"{answers_file}: cannot read: {exc.strerror or exc}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(f"{answers_file}: not valid JSON: {exc}")
    try:
        answers = check_answers(trial, raw)
    except AnswersError as exc:
        fail(f"{answers_file}: {exc}")
    click.echo(json.dumps(evaluate(trial, answers, day), indent=2, ensure_ascii=False))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5005, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes (above 1 only with shared rate-limit storage).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="threads per worker.")
@click.option("--debug", is_flag=True, help="Werkzeug's development server instead (never in production).")
def serve(host: str, port: int, workers: int, threads: int, debug: bool) -> None:
    """Serve the widget, the chat webhook and the staff screens (on gunicorn)."""
    from bot.server import serve as run_gunicorn, shared_limits
    app = create_app_or_fail()
    if workers > 1 and not shared_limits(app.config):
        fail("--workers above 1 needs PRESCREEN_RATELIMIT_STORAGE_URL (for example redis://localhost:6379/0): "
             "each worker would count the rate limits alone")
    click.echo(f"Prescreen bot on http://{host}:{port}/ (Ctrl+C stops)", err=True)
    if debug:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    else:
        run_gunicorn(app, host, port, workers, threads)


LANGUAGES = list(LANGUAGE_NAMES)


def _language(trial, language: str):
    """The trial's view in `language`, or a clear error when the criteria file does not offer it."""
    if language not in trial.languages:
        fail(f"the criteria file does not offer {language!r} (its `languages`: {', '.join(trial.languages)})")
    return trial.for_language(language)


@main.command()
@click.option("--sender", default=None, help="Conversation id to resume (default: a new one).")
@click.option("--language", type=click.Choice(LANGUAGES), default=None,
              help="The conversation's language (default: English, or the resumed conversation's).")
def chat(sender: str | None, language: str | None) -> None:
    """Talk to the bot in the terminal; reads standard input, so it can be scripted.

    Buttons are shown as numbered choices: typing the number picks it.
    """
    import secrets
    from bot.conversation import valid_sender
    from bot.runner import ActionFailed, ActionServerError
    from bot.store import StoreBusy

    if sender is not None and not valid_sender(sender):
        fail("--sender must be 16-128 characters of A-Z a-z 0-9 _ . : -")
    app = create_app_or_fail()
    conversations = app.extensions["prescreen"]
    sender = sender or "cli-" + secrets.token_hex(16)
    click.echo(f"(conversation id: {sender}; type 'stop' to pause, Ctrl+D to leave)", err=True)
    buttons: list[dict] = []

    def send(text: str) -> bool:
        nonlocal buttons
        try:
            meta = {"message_id": secrets.token_hex(8), **({"language": language} if language else {})}
            replies = conversations.message(sender, text, meta)
        except (ActionServerError, ActionFailed, StoreBusy):  # rolled back; ActionFailed was logged by the runner
            from bot.chat import RETRY_MESSAGE
            click.echo(RETRY_MESSAGE, err=True)
            return False
        buttons = []
        for reply in replies:
            show(reply)
        return True

    def show(reply: dict) -> None:
        nonlocal buttons
        if reply.get("text"):
            click.echo("bot: " + reply["text"].replace("\n", "\n     "))
        if reply.get("buttons"):
            buttons = reply["buttons"]
            for i, b in enumerate(buttons, 1):
                click.echo(f"     {i}) {b['title']}")

    if not conversations.store.conversation(sender):
        send("/greet")
    else:  # resuming: show what the bot last said, with its numbered buttons
        events = conversations.store.events(sender)
        last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
        for event in events[last_user + 1:]:
            if event.get("event") == "bot":
                show({"text": event.get("text"), **(event.get("data") or {})})
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        click.echo(f"you: {line.strip()}")
        send(text)


@main.command()
@click.argument("answer_id")
@click.argument("text")
@click.option("--today", default=None, help="The conversation's site date, YYYY-MM-DD (default: today at the site).")
@click.option("--criteria", "criteria_path", default=None, help="Criteria file (default: PRESCREEN_CRITERIA or criteria.yaml).")
@click.option("--language", type=click.Choice(LANGUAGES), default="en", show_default=True,
              help="The reply's language (one the criteria file offers).")
def parse(answer_id: str, text: str, today: str | None, criteria_path: str | None, language: str) -> None:
    """Print how TEXT is read as an answer to ANSWER_ID (JSON)."""
    from actions.parsing import parse_for_answer
    trial = _language(_load(criteria_path or default_criteria(), BAD_INPUT), language)
    day = _today(today, trial)
    try:
        result = parse_for_answer(trial, answer_id, text, day)
    except KeyError:
        fail(f"unknown answer id {answer_id!r} (the criteria file defines: {', '.join(trial.answers)})")
    click.echo(json.dumps(result, ensure_ascii=False))


@main.command()
@click.argument("corpus", default="tests/corpus/answers.yaml")
@click.option("--criteria", "criteria_path", default=None)
@click.option("--language", type=click.Choice(LANGUAGES), default="en", show_default=True,
              help="The corpus's language (one the criteria file offers).")
def accuracy(corpus: str, criteria_path: str | None, language: str) -> None:
    """Print answer-understanding accuracy on a labelled corpus, per answer type, and every miss."""
    import yaml
    from actions.corpus import median_ms, score
    trial = _language(_load(criteria_path or default_criteria(), BAD_INPUT), language)
    with open(corpus, encoding="utf-8") as fh:
        entries = yaml.safe_load(fh)

    def kind_of(answer_id: str) -> str:
        spec = trial.answers.get(answer_id)
        return spec.type if spec else answer_id

    result = score(trial, entries, kind_of)
    click.echo(f"{result.correct}/{result.total} understood correctly: {result.accuracy:.1%}"
               " (right, right after a check-back, or asked again / checked back where a coordinator would)")
    for category, count in sorted(result.categories.items(), key=lambda item: -item[1]):
        click.echo(f"  {category:40} {count:4}  {count / result.total:.1%}")
    if result.clear:
        click.echo(f"clear replies checked back or asked again: {result.clear_asked_back}/{result.clear}"
                   f" ({result.clear_asked_back / result.clear:.1%})")
    click.echo("by answer type:")
    for kind, (ok, total) in sorted(result.by_type.items()):
        click.echo(f"  {kind:12} {ok:4}/{total:<4} {ok / total:.1%}")
    click.echo(f"severe misreads: {len(result.severe)} (an opposite yes/no accepted, or a date off beyond its"
               " vagueness)")
    click.echo(f"parse time per answer: median {median_ms(result.timings_ms):.3f} ms,"
               f" max {max(result.timings_ms):.1f} ms")
    for miss in result.misses:
        e = miss.entry
        want = {k: e[k] for k in ("value", "status", "clear", "estimate") if k in e}
        click.echo(f"MISS [{miss.category}] {e['id']}: {e['text']!r} expected {want} got {miss.got}")


@main.command()
@click.option("--older-than", "older_than", type=click.IntRange(min=0, max=36500), required=True,
              help="Delete conversations with no activity for more than this many days (0 to 36500).")
@click.option("--outcome", type=click.Choice([o.value for o in Outcome]),
              default=None, help="Only conversations with this outcome.")
def purge(older_than: int, outcome: str | None) -> None:
    """Delete old conversations (events, answers, contact details, notes); tombstones and the audit log remain."""
    count = open_store().purge(older_than, outcome)
    click.echo(f"purged {count} conversation(s) inactive for more than {older_than} days"
               + (f" with outcome {outcome}" if outcome else ""))


@main.command("notify")
@click.option("--once", is_flag=True, help="Send what is due, then exit (exit 1 if a delivery failed).")
@click.option("--every", type=click.FloatRange(min=0.1, max=3600), default=None,
              help="Seconds between rounds (default: PRESCREEN_NOTIFY_INTERVAL_SECONDS).")
def notify_command(once: bool, every: float | None) -> None:
    """Send the study team's notifications (e-mail and/or webhook; no health data in them) until
    stopped, or once. Notifications off (no SMTP host or webhook URL): says so and sends nothing."""
    import logging
    import signal
    import threading

    from bot.notify import Channels, Sender
    config = settings()
    channels = Channels.from_config(config.flask_config())
    if not channels.names:
        click.echo("notifications are off (neither PRESCREEN_NOTIFY_SMTP_HOST nor PRESCREEN_NOTIFY_WEBHOOK_URL is "
                   "set): nothing sent; the outbox keeps its rows", err=True)
        return
    sender = Sender(open_store().engine, channels, _load(config.criteria, BAD_INPUT))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if once:
        done = sender.run_once()
        click.echo(f"notifications: {done}", err=True)
        sys.exit(REFUSED if done.failed or done.gave_up else 0)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())   # a delivery under way finishes first
    interval = every or config.notify_interval_seconds
    click.echo(f"sending notifications by {' and '.join(channels.names)} every {interval:g} s (Ctrl+C stops)",
               err=True)
    try:
        sender.run(interval, stop)
    except KeyboardInterrupt:
        pass


@main.group()
def db() -> None:
    """The database schema: `prescreen db upgrade` before starting a new version when
    PRESCREEN_AUTO_UPGRADE=0 (by default every command upgrades it on start)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema to this version's (one transaction)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot import db as database
    try:
        engine = database.open_engine(settings().database_url)
        before = database.current_revision(engine)
        after = database.upgrade(engine)
    except SQLAlchemyError as exc:
        fail(f"cannot upgrade the database: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    click.echo(f"database schema: {before or 'new or release 0.1'} -> {after}")


@db.command("status")
def db_status() -> None:
    """Print the database's schema revision and this version's."""
    from bot import db as database
    engine = database.open_engine(settings().database_url)
    current, newest = database.current_revision(engine), database.head()
    click.echo(f"database schema {current or 'none'}; this version needs {newest}"
               + ("" if current == newest else ": run `prescreen db upgrade`"))
    sys.exit(0 if current == newest else REFUSED)


register_staff_commands(main)

if __name__ == "__main__":  # pragma: no cover
    main()
