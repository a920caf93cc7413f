"""The recruitment funnel in figures (`/staff/insights`, bot/staff/insights_views.py): for the
conversations started in a range of site dates, the funnel from an opened chat to an enrolment,
conversations per week, where people stop, the criteria that rule people out or send them to
review, and the median time to complete; and the geometry of the page's charts.

Every figure is an SQL aggregate, over indexes where they serve (`conversations`: the covering
indexes on started_at and on outcome; `result_criteria`: its index on started_at, verdict,
criterion_id and its primary key; `followups` by status; `contact_attempts`); only the unfinished
conversations' `current_question` and the completed ones' `completed_at` are read from the rows (no
index holds them). Never the result JSON, the state snapshot or the event log, so that the page
stays fast at 100,000 conversations (bench/staff_pages.py). No patient's words are read.

What each funnel step counts (docs/ARCHITECTURE.md, "The insights page"):

- opened: a conversation row exists (the patient wrote at least once);
- started the questions: a question was asked (`current_question` set) or a result was given;
- completed: a result was given (`completed`), and then each outcome of the latest result;
- asked to be contacted: `contact_requested`;
- contacted: a follow-up status contacted, screening visit scheduled or enrolled, now or ever
  (`followups`), or a contact attempt of any result (`contact_attempts`);
- screening visit scheduled: a status screening visit scheduled or enrolled, now or ever, or a visit
  date recorded (`followups.visit_on`: every follow-up change that sets `conversations.visit_on`
  writes it there too);
- enrolled: the status enrolled, now or ever.

A later step is not limited to the conversations counted by an earlier one (the team may contact
someone who did not ask to be); each share is of the conversations opened.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.engine import Connection

from actions.trial import Trial
from bot.db.schema import contact_attempts, conversations, followups, result_criteria
from bot.staff.queries import LANGUAGES, LANGUAGES_IN_ENGLISH, OUTCOMES, date_arg, day_start_utc

DEFAULT_DAYS = 90          # no dates given: the last 90 days, today included
MAX_DAYS = 731             # a longer range is refused (about two years: at most 105 weekly columns)

CONTACTED = ("contacted", "screening_visit_scheduled", "enrolled")
SCHEDULED = ("screening_visit_scheduled", "enrolled")
ENROLLED = ("enrolled",)

BEFORE_QUESTIONS = "before_questions"   # drop-off key: no question asked yet (or at the final review)
BEFORE_QUESTIONS_LABEL = "Before the first question, or at the final review of the answers"

# funnel step key -> (label, what it counts)
STEPS: dict[str, tuple[str, str]] = {
    "opened": ("Opened the chat", "A conversation exists: the patient wrote at least once."),
    "started": ("Started the questions", "A question was asked, or a result was given. (A conversation that "
                "stopped at the final review of the answers is not counted: see below.)"),
    "completed": ("Completed", "A result was given."),
    **{f"outcome_{key}": (f"Outcome: {label}", f"The latest result was “{label}”.") for key, label in OUTCOMES.items()},
    "contact_requested": ("Asked to be contacted", "The patient asked the study team to contact them."),
    "contacted": ("Contacted", "A follow-up status Contacted, Scheduled for screening visit or Enrolled, now or "
                  "earlier, or a contact attempt of any result was recorded."),
    "visit_scheduled": ("Screening visit scheduled", "A follow-up status Scheduled for screening visit or "
                        "Enrolled, now or earlier, or a screening visit date was recorded."),
    "enrolled": ("Enrolled", "The follow-up status Enrolled, now or earlier."),
}


class PeriodError(ValueError):
    """Dates that cannot make a range; the message says which and why."""


@dataclass(frozen=True)
class Period:
    """The conversations the page counts: started from `date_from` to `date_to` (site dates, both
    included), in one language or all."""

    date_from: dt.date
    date_to: dt.date
    language: str | None = None

    @classmethod
    def default(cls, today: dt.date, language: str | None = None) -> "Period":
        return cls(today - dt.timedelta(days=DEFAULT_DAYS - 1), today, language)

    @classmethod
    def from_args(cls, args: Mapping[str, Any], today: dt.date) -> tuple["Period", list[str]]:
        """The range from request arguments `from`, `to` (YYYY-MM-DD) and `language`; a date left
        out is the default's (the last 90 days up to today). Problems are listed, in words."""
        problems: list[str] = []
        default = cls.default(today)
        dates = {}
        for name, fallback in (("from", default.date_from), ("to", default.date_to)):
            given, problem = date_arg(args, name)
            dates[name] = given or fallback
            problems += [problem] if problem else []
        if not (args.get("from") or "").strip() and (args.get("to") or "").strip() and not problems:
            dates["from"] = dates["to"] - dt.timedelta(days=DEFAULT_DAYS - 1)   # only `to`: the 90 days before it
        language = (args.get("language") or "").strip() or None
        if language and language not in LANGUAGES:
            problems.append(f"Unknown language {language[:20]!r}.")
            language = None
        if not problems and dates["from"] > dates["to"]:
            problems.append(f"The from date ({dates['from'].isoformat()}) is after the to date "
                            f"({dates['to'].isoformat()}).")
        elif not problems and (dates["to"] - dates["from"]).days + 1 > MAX_DAYS:
            problems.append(f"The range is {(dates['to'] - dates['from']).days + 1} days long; choose at most "
                            f"{MAX_DAYS} days (about two years).")
        return cls(dates["from"], dates["to"], language), problems

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def as_args(self) -> dict[str, str]:
        args = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        if self.language:
            args["language"] = self.language
        return args

    def describe(self) -> str:
        """The range in words (the page's scope line and the audit log)."""
        text = f"started {self.date_from.isoformat()} to {self.date_to.isoformat()}"
        if self.language:
            text += f"; language {LANGUAGES_IN_ENGLISH.get(self.language, self.language)}"
        return text

    def bounds(self, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) in UTC: midnight of the first date to midnight after the last, in the site's zone."""
        return day_start_utc(self.date_from, zone), day_start_utc(self.date_to + dt.timedelta(days=1), zone)


@dataclass
class Bar:
    """One figure of a chart: a count, its share of the chart's base (percent), and words."""

    key: str
    label: str
    value: int
    share: float | None = None      # percent of the base, None when the base is 0
    kind: str = ""                  # a css class for the bar (the funnel's outcomes)
    note: str = ""                  # more words: what a step counts, a criterion's kind and id


@dataclass
class Week:
    start: dt.date                  # the Monday (site date)
    value: int
    partial: bool                   # the range covers only part of this week


@dataclass
class Insights:
    period: Period
    funnel: list[Bar]
    weeks: list[Week]
    dropoff: list[Bar]
    ruled_out: list[Bar]
    review: list[Bar]
    waits: list[Bar]
    opened: int
    completed: int
    median_minutes: float | None    # completed_at - started_at of the completed, the median
    timed: int                      # completed conversations with a completion time (the median's count)


def _share(value: int, base: int) -> float | None:
    return None if base <= 0 else 100.0 * value / base


def _in_period(period: Period, zone: ZoneInfo):
    c = conversations.c
    start, end = period.bounds(zone)
    condition = [c.started_at >= start, c.started_at < end]
    if period.language:
        condition.append(c.language == period.language)
    return and_(*condition)


def _flag(condition) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def funnel_counts(conn: Connection, period: Period, zone: ZoneInfo) -> dict[str, int]:
    """Every funnel step's count but "started" (which needs the drop-off's rows), in one pass over
    the covering index of the range; the follow-up and contact-attempt subqueries are each
    evaluated once. A visit date counts as recorded in `followups` (every follow-up change that sets
    `conversations.visit_on` writes a row with it, bot/staff/work.py), so no row is read."""
    c, f, a = conversations.c, followups.c, contact_attempts.c
    # lists of conversation ids (each built once, a hash on PostgreSQL: one list, not a UNION, whose
    # size PostgreSQL overestimates and then scans per row), probed only when the status does not tell
    contacted = or_(c.status.in_(CONTACTED), c.id.in_(select(f.conversation_id).where(f.status.in_(CONTACTED))),
                    c.id.in_(select(a.conversation_id)))
    scheduled = or_(c.status.in_(SCHEDULED), c.id.in_(
        select(f.conversation_id).where(or_(f.status.in_(SCHEDULED), f.visit_on.isnot(None)))))
    enrolled = or_(c.status.in_(ENROLLED), c.id.in_(select(f.conversation_id).where(f.status.in_(ENROLLED))))
    columns = [func.count().label("opened"), _flag(c.completed.is_(True)).label("completed"),
               _flag(c.contact_requested.is_(True)).label("contact_requested"),
               _flag(contacted).label("contacted"), _flag(scheduled).label("visit_scheduled"),
               _flag(enrolled).label("enrolled")]
    columns += [_flag(c.outcome == key).label(f"outcome_{key}") for key in OUTCOMES]
    row = conn.execute(select(*columns).select_from(conversations).where(_in_period(period, zone))).mappings().one()
    return {key: int(value) for key, value in row.items()}


def stopped_at(conn: Connection, period: Period, zone: ZoneInfo) -> dict[str | None, int]:
    """The conversations without a result, by the question they were at (None: no question asked
    yet, or at the final review). The unfinished ones are picked on the covering index first, so
    that only their rows are read (for `current_question`), not every row of the range."""
    c = conversations.c
    unfinished = select(c.id).where(_in_period(period, zone), c.completed.is_(False))
    rows = conn.execute(select(c.current_question, func.count()).where(c.id.in_(unfinished))
                        .group_by(c.current_question))
    return {question: int(n) for question, n in rows}


def week_starts(period: Period) -> list[dt.date]:
    """The Mondays of the weeks the range touches (site dates)."""
    monday = period.date_from - dt.timedelta(days=period.date_from.weekday())
    starts = []
    while monday <= period.date_to:
        starts.append(monday)
        monday += dt.timedelta(days=7)
    return starts


def _bucket(column, bounds: list[dt.datetime], lo: int, hi: int):
    """The index of the week a time falls in, among weeks lo..hi (a balanced tree of comparisons:
    about log2(weeks) per row, not one per week)."""
    if lo == hi:
        return literal(lo)
    mid = (lo + hi + 1) // 2
    return case((column < bounds[mid], _bucket(column, bounds, lo, mid - 1)), else_=_bucket(column, bounds, mid, hi))


def per_week(conn: Connection, period: Period, zone: ZoneInfo) -> list[Week]:
    """Conversations started per week (weeks start on Monday, in the site's zone)."""
    starts = week_starts(period)
    bounds = [day_start_utc(monday, zone) for monday in starts]
    c = conversations.c
    inner = select(_bucket(c.started_at, bounds, 0, len(starts) - 1).label("week")) \
        .where(_in_period(period, zone)).subquery()
    found = {int(week): int(n) for week, n in conn.execute(select(inner.c.week, func.count()).group_by(inner.c.week))}
    return [Week(monday, found.get(i, 0),
                 partial=monday < period.date_from or monday + dt.timedelta(days=6) > period.date_to)
            for i, monday in enumerate(starts)]


def criteria_counts(conn: Connection, period: Period, zone: ZoneInfo) -> dict[tuple[str, str], int]:
    """(criterion id, verdict) -> the number of conversations in the range whose latest result has
    that verdict for it: `fail` (any result: a fail rules out), `unknown` among the results that
    need review (an unknown beside a fail sent nobody to review), `wait` among the results that need
    review or are eligible after a washout.

    Read from indexes only: fails and waits from result_criteria's index on (verdict, started_at,
    criterion_id, conversation_id), only the rows of that verdict; waits with their conversation's
    outcome; and every
    criterion of the needs-review results (conversations' outcome index, then result_criteria's
    primary key), which are unknown or wait (a fail would make the result "not eligible"), so the
    unknowns are those less the waits."""
    rc, c = result_criteria.c, conversations.c
    start, end = period.bounds(zone)
    found: dict[tuple[str, str], int] = {}
    fails = select(rc.criterion_id, func.count()).where(rc.started_at >= start, rc.started_at < end,
                                                        rc.verdict == "fail")
    if period.language:
        fails = fails.where(rc.conversation_id.in_(select(c.id).where(_in_period(period, zone))))
    for criterion, n in conn.execute(fails.group_by(rc.criterion_id)):
        found[(criterion, "fail")] = int(n)
    waits_in_review: dict[str, int] = {}
    # (no condition on the conversations' start: result_criteria's is the same, and the few wait rows
    # are then found on its index before any conversation is looked up)
    waits = select(rc.criterion_id, c.outcome, func.count()).select_from(
        result_criteria.join(conversations, c.id == rc.conversation_id)).where(
        rc.started_at >= start, rc.started_at < end, rc.verdict == "wait",
        *([c.language == period.language] if period.language else []))
    for criterion, outcome, n in conn.execute(waits.group_by(rc.criterion_id, c.outcome)):
        if outcome in ("needs_review", "eligible_after_washout"):
            found[(criterion, "wait")] = found.get((criterion, "wait"), 0) + int(n)
        if outcome == "needs_review":
            waits_in_review[criterion] = int(n)
    in_review = select(rc.criterion_id, func.count()).select_from(
        conversations.join(result_criteria, rc.conversation_id == c.id)).where(
        c.outcome == "needs_review", _in_period(period, zone))
    if conn.dialect.name != "sqlite":
        # PostgreSQL hash-joins all of result_criteria unless told its range too (the same as the
        # conversations'); SQLite would then read result_criteria's rows instead of its primary key
        in_review = in_review.where(rc.started_at >= start, rc.started_at < end)
    for criterion, n in conn.execute(in_review.group_by(rc.criterion_id)):
        unknown = int(n) - waits_in_review.get(criterion, 0)
        if unknown > 0:
            found[(criterion, "unknown")] = unknown
    return found


def _minutes(dialect: str):
    c = conversations.c
    if dialect == "sqlite":
        return (func.julianday(c.completed_at) - func.julianday(c.started_at)) * 1440.0
    return func.extract("epoch", c.completed_at - c.started_at) / 60.0


def median_minutes(conn: Connection, period: Period, zone: ZoneInfo) -> tuple[float | None, int]:
    """The median of completed_at - started_at, in minutes, over the completed conversations that
    have a completion time (those completed before it was recorded have none); and their count.
    SQLite has no median function: the durations are fetched (one number per completed
    conversation of the range) and the median taken here, the same on every database."""
    c = conversations.c
    minutes = _minutes(conn.dialect.name)
    found = [float(m) for (m,) in conn.execute(
        select(minutes).where(_in_period(period, zone), c.completed.is_(True), c.completed_at.isnot(None)))]
    if not found:
        return None, 0
    return statistics.median(found), len(found)


def compute(conn: Connection, trial: Trial, period: Period) -> Insights:
    """Every figure of the insights page for this range."""
    zone = trial.zone
    english = trial.for_language("en")
    counts = funnel_counts(conn, period, zone)
    stops = stopped_at(conn, period, zone)
    counts["started"] = counts["completed"] + sum(n for q, n in stops.items() if q is not None)
    opened = counts["opened"]
    order = ["opened", "started", "completed", *[f"outcome_{k}" for k in OUTCOMES], "contact_requested",
             "contacted", "visit_scheduled", "enrolled"]
    funnel = [Bar(key, STEPS[key][0], counts[key], _share(counts[key], opened),
                  kind=key.replace("outcome_", "outcome-") if key.startswith("outcome_") else "step",
                  note=STEPS[key][1]) for key in order]

    dropoff = []
    if stops.get(None):
        dropoff.append(Bar(BEFORE_QUESTIONS, BEFORE_QUESTIONS_LABEL, stops[None], _share(stops[None], opened),
                           note="No question asked yet, or all answered and the result not yet asked for."))
    known = set()
    for number, question in enumerate(english.questions, 1):
        known.add(question.id)
        if stops.get(question.id):
            dropoff.append(Bar(question.id, question.text, stops[question.id], _share(stops[question.id], opened),
                               note=f"Question {number} ({question.id})"))
    for question_id in sorted(q for q in stops if q is not None and q not in known):
        dropoff.append(Bar(question_id, "A question no longer in the criteria file", stops[question_id],
                           _share(stops[question_id], opened), note=question_id))

    verdicts = criteria_counts(conn, period, zone)
    outcomes = {key: counts[f"outcome_{key}"] for key in OUTCOMES}
    bases = {"fail": outcomes["not_eligible"], "unknown": outcomes["needs_review"],
             "wait": outcomes["needs_review"] + outcomes["eligible_after_washout"]}
    ruled_out, review, waits = [], [], []
    targets = {"fail": ruled_out, "unknown": review, "wait": waits}
    for kind, criterion in english.criteria():
        reasons = {"fail": criterion.reasons.fail, "unknown": criterion.reasons.unknown,
                   "wait": criterion.reasons.wait}
        for verdict, target in targets.items():
            n = verdicts.pop((criterion.id, verdict), 0)
            if n:
                target.append(Bar(criterion.id, reasons[verdict] or criterion.source_text, n,
                                  _share(n, bases[verdict]), note=f"{kind.capitalize()} criterion {criterion.id}"))
    for (criterion_id, verdict), n in sorted(verdicts.items()):   # criteria removed from the file since
        if verdict in targets:
            targets[verdict].append(Bar(criterion_id, "A criterion no longer in the criteria file", n,
                                        _share(n, bases[verdict]), note=f"Criterion {criterion_id}"))
    for bars in (ruled_out, review, waits):
        bars.sort(key=lambda bar: -bar.value)   # most often first (stable: the file's order among equals)

    median, timed = median_minutes(conn, period, zone)
    return Insights(period=period, funnel=funnel, weeks=per_week(conn, period, zone), dropoff=dropoff,
                    ruled_out=ruled_out, review=review, waits=waits, opened=opened, completed=counts["completed"],
                    median_minutes=median, timed=timed)


# -- words and numbers as the page and the CSV show them ---------------------------------------

def count_text(value: int) -> str:
    return f"{value:,}"


def share_text(share: float | None) -> str:
    """A percentage as the page shows it: 100%, 45.3%, 0.4%, <0.1%; a dash without a base."""
    if share is None:
        return "—"
    if share == 0 or share >= 99.95:
        return f"{share:.0f}%"
    if share < 0.05:
        return "<0.1%"
    return f"{share:.1f}%"


def minutes_text(minutes: float | None) -> str:
    """A duration in words: "6.5 minutes", "2 h 5 min", "3 days 4 h"."""
    if minutes is None:
        return "—"
    if minutes < 120:
        return f"{minutes:.1f} minutes"
    hours = int(minutes // 60)
    if hours < 48:
        return f"{hours} h {int(minutes - hours * 60)} min"
    return f"{hours // 24} days {hours % 24} h"


def csv_rows(data: Insights) -> list[list[str]]:
    """The page's figures in long form: figure, key, label, value, percent (of the chart's base:
    opened for the funnel and the drop-off; for the criteria, the conversations not eligible, those
    that need review, and those that need review or are eligible after a washout)."""
    period = data.period
    rows = [["period", "from", "First date (site date)", period.date_from.isoformat(), ""],
            ["period", "to", "Last date (site date)", period.date_to.isoformat(), ""],
            ["period", "language", "Language", period.language or "all", ""]]

    def share(bar: Bar) -> str:
        return "" if bar.share is None else f"{bar.share:.1f}"

    rows += [["funnel", b.key, b.label, str(b.value), share(b)] for b in data.funnel]
    rows += [["week", w.start.isoformat(), f"Week of {w.start.isoformat()}" + (" (part of it)" if w.partial else ""),
              str(w.value), ""] for w in data.weeks]
    rows += [["stopped_at", b.key, b.label, str(b.value), share(b)] for b in data.dropoff]
    for figure, bars in (("ruled_out_by", data.ruled_out), ("review_because_of", data.review),
                         ("washout_wait", data.waits)):
        rows += [[figure, b.key, b.label, str(b.value), share(b)] for b in bars]
    rows.append(["median_minutes_to_complete", "minutes", "Median time to complete (minutes)",
                 "" if data.median_minutes is None else f"{data.median_minutes:.1f}", ""])
    rows.append(["median_minutes_to_complete", "count", "Completed conversations with a completion time",
                 str(data.timed), ""])
    return rows


# -- chart geometry: percentages of the chart's width, pixels down (text keeps its size) ----------

BAR_ROW = 52          # px per horizontal bar: its label line, the bar, a gap
BAR_AREA = 66.0       # percent of the width the longest bar takes (the count is right-aligned after it)
COLUMN_AREA = 150     # px of the tallest column
LABEL_CHARS = 110     # a bar's label is cut to this many characters (the table has it whole) ...
SHORT_LABEL_CHARS = 48   # ... and to this many on a narrow screen (the stylesheet shows one of the two)


def bar_width(value: int, largest: int) -> float:
    return 0.0 if largest <= 0 else BAR_AREA * value / largest


def short_label(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def label_step(count: int, most: int) -> int:
    """Label every n-th of `count` columns so that at most `most` labels share the width."""
    return max(1, -(-count // most))
