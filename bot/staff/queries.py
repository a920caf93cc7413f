"""The staff list: filters over the per-conversation summary rows, full-text
search in the patients' words, pagination and summary counts.

Everything here reads the summary rows (`conversations`) and the full-text
index; nothing scans the event log.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.engine import Connection

from actions.evaluator import Outcome
from actions.translations import LANGUAGE_NAMES, OWN_NAMES
from bot.db.schema import conversations, now_utc, transcript_index
from bot.db.search import matching_documents, matching_line
from bot.reference import as_reference

OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.LIKELY_ELIGIBLE: "Likely eligible",
    Outcome.ELIGIBLE_AFTER_WASHOUT: "Eligible after washout",
    Outcome.NEEDS_REVIEW: "Needs review",
    Outcome.NOT_ELIGIBLE: "Not eligible",
}
# outcome value (as stored, and as a filter value) -> label, most hopeful first (the reverse of the
# enum's precedence); plain-string keys for the templates, the SQL labels and the filters
OUTCOMES: dict[str, str] = {outcome.value: OUTCOME_LABELS[outcome] for outcome in reversed(Outcome)}
NO_OUTCOME = "none"  # filter value: no result yet

STATUSES: dict[str, str] = {
    "new": "New",
    "contacted": "Contacted",
    "screening_visit_scheduled": "Scheduled for screening visit",
    "enrolled": "Enrolled",
    "not_a_fit": "Not a fit",
    "could_not_reach": "Could not reach",
}

# a conversation's language (conversations.language) -> its name as the staff pages show it (each
# language in its own words, the way a language menu names them); a code not listed shows as itself
LANGUAGES: dict[str, str] = OWN_NAMES
# ... and in English, for a title or the page's description of the filters
LANGUAGES_IN_ENGLISH: dict[str, str] = LANGUAGE_NAMES

LIST_COLUMNS = (conversations.c.id, conversations.c.started_at, conversations.c.last_activity,
                conversations.c.completed, conversations.c.current_question, conversations.c.outcome,
                conversations.c.eligible_from, conversations.c.contact_requested, conversations.c.status,
                conversations.c.turns, conversations.c.reference, conversations.c.language)


class FilterError(ValueError):
    """A filter value that is not allowed; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    """What the staff list (or an export) is narrowed to. Dates are the site's local dates."""

    outcome: str | None = None          # an OUTCOMES key or NO_OUTCOME
    status: str | None = None           # a STATUSES key
    contact: bool | None = None         # contact requested
    date_from: dt.date | None = None    # started on or after (site date)
    date_to: dt.date | None = None      # started on or before (site date)
    query: str = ""                     # words the patient wrote
    language: str | None = None         # a LANGUAGES key
    abandoned: str | None = None        # a question id: not completed, idle, stopped at that question
    abandoned_after_minutes: float = 60.0   # idle this long: abandoned (the STAFF_ABANDONED_AFTER_MINUTES setting)

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> tuple["Filters", list[str]]:
        """Filters from request arguments, and a list of the problems found (those filters are dropped)."""
        problems: list[str] = []
        outcome = (args.get("outcome") or "").strip() or None
        if outcome and outcome not in OUTCOMES and outcome != NO_OUTCOME:
            problems.append(f"Unknown outcome {outcome!r}.")
            outcome = None
        status = (args.get("status") or "").strip() or None
        if status and status not in STATUSES:
            problems.append(f"Unknown follow-up status {status!r}.")
            status = None
        contact_arg = (args.get("contact") or "").strip().lower()
        contact = {"yes": True, "no": False}.get(contact_arg)
        if contact_arg and contact is None:
            problems.append("Contact requested must be yes or no.")
        dates = {}
        for name in ("from", "to"):
            dates[name], problem = date_arg(args, name)
            problems += [problem] if problem else []
        query = (args.get("q") or "").strip()[:200]
        language = (args.get("language") or "").strip() or None
        if language and language not in LANGUAGES:
            problems.append(f"Unknown language {language!r}.")
            language = None
        abandoned = (args.get("abandoned") or "").strip() or None
        if abandoned and not QUESTION_ID.fullmatch(abandoned):
            problems.append(f"Unknown question {abandoned[:64]!r}.")
            abandoned = None
        return cls(outcome, status, contact, dates["from"], dates["to"], query, language, abandoned), problems

    def as_args(self) -> dict[str, str]:
        """The filters as request arguments (for links and the export button)."""
        args = {"outcome": self.outcome or "", "status": self.status or "",
                "contact": {True: "yes", False: "no"}.get(self.contact, ""),
                "from": self.date_from.isoformat() if self.date_from else "",
                "to": self.date_to.isoformat() if self.date_to else "", "q": self.query,
                "language": self.language or "", "abandoned": self.abandoned or ""}
        return {k: v for k, v in args.items() if v}

    def describe(self) -> str:
        """The filters in plain words (for the page; the audit log's: bot.staff.export.audit_detail)."""
        parts = []
        if self.outcome:
            parts.append("outcome " + OUTCOMES.get(self.outcome, "none yet"))
        if self.status:
            parts.append("status " + STATUSES[self.status])
        if self.contact is not None:
            parts.append("contact requested" if self.contact else "no contact requested")
        if self.language:
            parts.append("language " + LANGUAGES_IN_ENGLISH.get(self.language, self.language))
        if self.date_from:
            parts.append(f"started on or after {self.date_from.isoformat()}")
        if self.date_to:
            parts.append(f"started on or before {self.date_to.isoformat()}")
        if self.abandoned:
            parts.append(f"abandoned at question {self.abandoned}")
        if self.query:
            parts.append(f"patient wrote {self.query!r}" + (" (or reference)" if as_reference(self.query) else ""))
        return "; ".join(parts) or "all conversations"


EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
QUESTION_ID = re.compile(r"[a-z0-9_]{1,64}")


def date_arg(args: Mapping[str, Any], name: str) -> tuple[dt.date | None, str | None]:
    """The date of the request argument `from` or `to` (None when not given), or the problem in words."""
    value = (args.get(name) or "").strip()
    if not value:
        return None, None
    try:
        return parse_date(value), None
    except ValueError:
        return None, (f"{'From' if name == 'from' else 'To'} date {value[:40]!r} is not a date from "
                      f"{EARLIEST.year} to {LATEST.year} (YYYY-MM-DD).")


def parse_date(value: str) -> dt.date:
    """A YYYY-MM-DD date from 1900 to 2999 (others cannot be a conversation's date, and the
    extremes would overflow when turned into the site's day boundaries)."""
    if len(value) != 10:
        raise ValueError(value)
    day = dt.date.fromisoformat(value)
    if not EARLIEST <= day <= LATEST:
        raise ValueError(value)
    return day


def day_start_utc(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """Midnight of a site date, in UTC."""
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.timezone.utc)


def where_clause(filters: Filters, zone: ZoneInfo, dialect: str):
    """The SQL condition on the summary rows for these filters."""
    c = conversations.c
    conditions = []
    if filters.outcome == NO_OUTCOME:
        conditions.append(c.outcome.is_(None))
    elif filters.outcome:
        conditions.append(c.outcome == filters.outcome)
    if filters.status:
        conditions.append(c.status == filters.status)
    if filters.contact is not None:
        conditions.append(c.contact_requested == filters.contact)
    if filters.language:
        conditions.append(c.language == filters.language)
    if filters.abandoned:
        idle_since = now_utc() - dt.timedelta(minutes=filters.abandoned_after_minutes)
        conditions += [c.completed.is_(False), c.current_question == filters.abandoned, c.last_activity < idle_since]
    if filters.date_from:
        conditions.append(c.started_at >= day_start_utc(filters.date_from, zone))
    if filters.date_to:
        conditions.append(c.started_at < day_start_utc(filters.date_to + dt.timedelta(days=1), zone))
    if filters.query:
        matches = matching_documents(dialect, filters.query)
        reference = as_reference(filters.query)   # the code on a patient's printed result ("K7Q-4M2")
        if reference and matches is not None:
            conditions.append(or_(c.reference == reference, c.id.in_(matches)))
        elif reference:
            conditions.append(c.reference == reference)
        elif matches is not None:
            conditions.append(c.id.in_(matches))
    return and_(*conditions) if conditions else true()


@dataclass
class Counts:
    """Summary counts of the filtered set."""

    started: int = 0
    completed: int = 0
    contact_requests: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def counts(conn: Connection, filters: Filters, zone: ZoneInfo) -> Counts:
    """Started, completed, each outcome and contact requests among the filtered conversations."""
    c = conversations.c
    columns = [func.count().label("started"),
               func.coalesce(func.sum(case((c.completed.is_(True), 1), else_=0)), 0).label("completed"),
               func.coalesce(func.sum(case((c.contact_requested.is_(True), 1), else_=0)), 0).label("contact")]
    columns += [func.coalesce(func.sum(case((c.outcome == key, 1), else_=0)), 0).label(key) for key in OUTCOMES]
    row = conn.execute(select(*columns).select_from(conversations)
                       .where(where_clause(filters, zone, conn.dialect.name))).mappings().one()
    return Counts(started=int(row["started"]), completed=int(row["completed"]), contact_requests=int(row["contact"]),
                  outcomes={key: int(row[key]) for key in OUTCOMES})


@dataclass
class Page:
    """One page of the list."""

    rows: list[dict[str, Any]]
    number: int
    per_page: int
    total: int
    counts: Counts
    matches: dict[str, str] = field(default_factory=dict)   # conversation id -> a matching patient message

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def list_page(conn: Connection, filters: Filters, zone: ZoneInfo, page: int = 1, per_page: int = 50) -> Page:
    """The filtered conversations, newest first, one page of them, with the summary counts."""
    totals = counts(conn, filters, zone)
    pages = max(1, math.ceil(totals.started / per_page))
    page = min(max(1, page), pages)
    c = conversations.c
    rows = conn.execute(select(*LIST_COLUMNS).where(where_clause(filters, zone, conn.dialect.name))
                        .order_by(c.started_at.desc(), c.id.desc())
                        .limit(per_page).offset((page - 1) * per_page)).mappings().all()
    result = Page([dict(r) for r in rows], page, per_page, totals.started, totals)
    if filters.query and result.rows:
        result.matches = matching_messages(conn, filters.query, [r["id"] for r in result.rows])
    return result


def matching_messages(conn: Connection, query: str, ids: list[str]) -> dict[str, str]:
    """For each of these conversations, the first patient message that matches the query."""
    ti = transcript_index
    found: dict[str, str] = {}
    for sender, document in conn.execute(select(ti.c.conversation_id, ti.c.text).where(ti.c.conversation_id.in_(ids))):
        line = matching_line(document, query)
        if line:
            found[sender] = line
    return found


def filtered_ids(conn: Connection, filters: Filters, zone: ZoneInfo, batch: int = 500):
    """Every filtered conversation id, newest first, fetched in batches (for exports)."""
    c = conversations.c
    condition = where_clause(filters, zone, conn.dialect.name)
    last: tuple | None = None
    while True:
        stmt = select(c.id, c.started_at).where(condition)
        if last is not None:
            stmt = stmt.where((c.started_at < last[1]) | ((c.started_at == last[1]) & (c.id < last[0])))
        rows = conn.execute(stmt.order_by(c.started_at.desc(), c.id.desc()).limit(batch)).all()
        if not rows:
            return
        yield [r[0] for r in rows]
        last = tuple(rows[-1])
