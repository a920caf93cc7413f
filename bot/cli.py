"""The `prescreen` command line.

Commands that print JSON print only JSON on standard output; warnings and
errors go to standard error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

import click

from actions.evaluator import AnswersError, check_answers, evaluate
from actions.trial import Trial, TrialError, load_trial


def default_criteria() -> str:
    """The criteria file named by PRESCREEN_CRITERIA, or criteria.yaml."""
    return os.environ.get("PRESCREEN_CRITERIA", "criteria.yaml")


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
    trial = _load(path, 1)
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
    trial = _load(criteria_path or default_criteria(), 2)
    day = _today(today, trial)
    try:
        with click.open_file(answers_file, encoding="utf-8") as fh:
            raw = json.load(fh)
    except OSError as exc:
        _fail(f"{answers_file}: cannot read: {exc.strerror or exc}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        _fail(f"{answers_file}: not valid JSON: {exc}")
    try:
        answers = check_answers(trial, raw)
    except AnswersError as exc:
        _fail(f"{answers_file}: {exc}")
    click.echo(json.dumps(evaluate(trial, answers, day), indent=2, ensure_ascii=False))


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
