"""Fill a database with many realistic conversations, fast (for benchmarks and demos).

    python -m bot.staff.seed --conversations 100000 --database-url sqlite:///var/bench.sqlite3

First a few dozen patients with random answers talk to the real engine (in a
scratch database) to make conversation templates; then every seeded
conversation copies one template, whole (completed) or cut short (abandoned),
with its own id, start time and timestamps, and is bulk-inserted: summary row
(with its completion and needs-a-person times, as the store's turn writes
them), event log, full-text index rows and the result's criteria that did not
pass (`result_criteria`). Follow-up work is spread over the completed ones that
need a person: a status history in `followups` (contacted, then a screening
visit, then enrolled; or not a fit, could not reach), contact attempts and visit
dates. It never runs the engine per seeded conversation.
`--spanish 0.2`: a fifth of the templates talk to the engine in Spanish (the
widget's metadata.language; they tap Spanish buttons or type their titles).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any

from actions.evaluator import Outcome
from bot.config import Settings

NAMES = ["Alex Morgan", "Sam Lee", "Jordan Diaz", "Maria Rossi", "Chen Wei", "Priya Nair", "Ola Nordmann"]
NEGATIVE = re.compile(r"^(no\b|never|none|doesn't apply|more than)", re.I)
DOSE_WORDS = ["2 weeks ago", "3 weeks ago", "last month", "in September", "about 2 months ago", "a year ago"]
OUTCOME_MIX = {Outcome.NOT_ELIGIBLE: 0.4, Outcome.NEEDS_REVIEW: 0.3, Outcome.LIKELY_ELIGIBLE: 0.15,
               Outcome.ELIGIBLE_AFTER_WASHOUT: 0.15}
TYPED_EXTRA = ["not sure", "I think so", "no idea", "maybe last summer", "my doctor said yes", "I don't know"]
# what happened to a completed conversation that needs a person (a result that needs one, or a contact
# request): its follow-up statuses in order, with a weight; the rest stay "new"
WORK_PATHS = [((), 0.35), (("contacted",), 0.2), (("could_not_reach",), 0.1), (("contacted", "not_a_fit"), 0.1),
              (("contacted", "screening_visit_scheduled"), 0.15),
              (("contacted", "screening_visit_scheduled", "enrolled"), 0.1)]
SEED_STAFF = "seed-coordinator"


@dataclass
class Template:
    """One generated conversation: its events and, after each turn, the event count and summary."""

    events: list[dict[str, Any]]
    turns: list[tuple[int, dict[str, Any]]]    # (events after this turn, summary fields after this turn)
    language: str = "en"

    def result_turns(self) -> list[int]:
        """The turns that gave a result (0-based)."""
        found, turn = [], 0
        for i, event in enumerate(self.events):
            while turn < len(self.turns) - 1 and i >= self.turns[turn][0]:
                turn += 1
            if event.get("event") == "bot" and "prescreen_result" in ((event.get("data") or {}).get("custom") or {}):
                found.append(turn)
        return found

    def first_needing_person(self) -> int | None:
        """The first turn after which the conversation needed a person (bot/store.py `_work`)."""
        from bot.store import NEEDS_PERSON
        return next((i for i, (_, s) in enumerate(self.turns)
                     if s.get("outcome") in NEEDS_PERSON or s.get("contact_requested")), None)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("criteria_version", "completed", "current_question", "outcome", "eligible_from", "contact_requested",
            "result")
    return {k: row[k] for k in keys}


def make_templates(count: int, criteria: str, rng: random.Random, today: str, spanish: float = 0.0) -> list[Template]:
    """Random patients talking to the real engine in a scratch database (a `spanish` share of them
    in Spanish)."""
    from bot import create_app
    from bot.runner import ActionServerError

    scratch = tempfile.mkdtemp(prefix="prescreen-seed-")
    app = create_app({"DATABASE_URL": f"sqlite:///{scratch}/templates.sqlite3", "CRITERIA": criteria,
                      "ALLOW_TODAY": True, "TESTING": True, "SECRET_KEY": "seed", "RATE_LIMITS": "off"})
    conversations = app.extensions["prescreen"]
    store = app.extensions["prescreen_store"]
    templates = []
    for n in range(count):
        sender = f"template-{n}"
        turns: list[tuple[int, dict[str, Any]]] = []
        language = "es" if spanish and rng.random() < spanish else "en"   # no draw without Spanish: same data
        message = "hola" if language == "es" else "hi"
        mistakes = 0
        for _ in range(80):
            try:
                replies = conversations.message(sender, message, {"today": today, **(
                    {"language": language} if language != "en" else {})})
            except ActionServerError:
                break
            events = store.events(sender)
            turns.append((len(events), _summary(store.conversation(sender))))
            outcome = next(((r.get("custom") or {}).get("prescreen_result", {}).get("outcome") for r in replies
                            if (r.get("custom") or {}).get("prescreen_result")), None)
            if outcome == Outcome.NOT_ELIGIBLE and mistakes < 6 and rng.random() < 0.9:
                mistakes += 1          # like a patient who tapped the wrong answer
                message = "me equivoqué" if language == "es" else "I made a mistake"
                continue
            message = _next_message(replies, rng)
            if message is None:
                break
        row = store.conversation(sender) or {}
        templates.append(Template(store.events(sender), turns, row.get("language", "en")))
    return templates


def _next_message(replies: list[dict[str, Any]], rng: random.Random) -> str | None:
    """What a random patient answers to these replies; None to stop."""
    buttons = [b for r in replies for b in (r.get("buttons") or [])]
    question = next(((r.get("custom") or {}).get("question") for r in replies
                     if (r.get("custom") or {}).get("question")), None)
    said = (replies[-1].get("text") or "").lower() if replies else ""
    if any("review" in (r.get("custom") or {}) for r in replies):     # "Here is what you told me"
        return "/affirm" if rng.random() < 0.9 else rng.choice([b["payload"] for b in buttons[1:]] or ["/affirm"])
    buttons = [b for b in buttons if b["payload"] != "/go_back" or rng.random() < 0.05]   # rarely "change my last"
    if question and question.get("type") == "last_dose" and rng.random() < 0.25:
        return rng.choice(DOSE_WORDS)
    if buttons:
        if buttons[0]["payload"] == "/affirm" and any(w in buttons[0]["title"].lower() for w in ("start", "empezar")):
            return "/affirm"
        weights = [5.0 if NEGATIVE.match(b["title"]) else 0.6 if b["title"].lower() == "not sure" else 1.0
                   for b in buttons]
        button = rng.choices(buttons, weights)[0]
        roll = rng.random()
        if roll < 0.7:
            return button["payload"]
        if roll < 0.95:
            return button["title"].lower()
        return rng.choice(TYPED_EXTRA)
    if question and question.get("type") == "age":
        return rng.choice(["", "I'm ", "I am ", "age "]) + str(rng.randint(16, 85))
    if question:
        return rng.choice(TYPED_EXTRA)
    if said.startswith("what name"):
        return rng.choice(NAMES)
    if said.startswith("what phone number or e-mail"):
        return f"patient{rng.randint(1, 999)}@example.org"
    return None


def seed(url: str, count: int, criteria: str, templates: int = 60, days: int = 365, seed_value: int = 1,
         today: str | None = None, batch: int = 500, log=print, spanish: float = 0.0) -> None:
    """Insert `count` conversations copied from engine-made templates (a `spanish` share of the
    templates in Spanish)."""
    from sqlalchemy import insert

    from bot.db.schema import contact_attempts, conversations, events, followups, result_criteria, transcript_index
    from bot.db.search import searchable_text
    from bot.reference import new_reference
    from bot.store import Store, not_passed

    rng = random.Random(seed_value)
    started = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc)
    today = today or now.date().isoformat()
    made = make_templates(templates, criteria, rng, today, spanish)
    made = [t for t in made if t.turns]
    log(f"{len(made)} templates from the engine in {time.perf_counter() - started:.1f} s")

    store = Store(url)
    # events as JSON text with a placeholder timestamp, and each turn's index rows, once per template
    prepared = []
    for t in made:
        texts, turn_of, turn = [], [], 0
        bounds = [n for n, _ in t.turns]
        for i, event in enumerate(t.events):
            while turn < len(bounds) - 1 and i >= bounds[turn]:
                turn += 1
            turn_of.append(turn)
            event = dict(event, timestamp=0.0)
            event.pop("message_id", None)
            texts.append(json.dumps(event, ensure_ascii=False).replace('"timestamp": 0.0', '"timestamp": %TS%'))
        prepared.append((t, texts, turn_of, t.result_turns(), t.first_needing_person()))

    # pick templates so that the final outcomes come in a plausible mix
    by_outcome: dict[Any, list] = {}
    for item in prepared:
        by_outcome.setdefault(item[0].turns[-1][1]["outcome"], []).append(item)
    classes = list(by_outcome)
    class_weights = [OUTCOME_MIX.get(c, 0.1) for c in classes]
    log("template outcomes: " + ", ".join(f"{c}: {len(by_outcome[c])}" for c in classes))

    paths, path_weights = [p for p, _ in WORK_PATHS], [w for _, w in WORK_PATHS]
    done = 0
    codes: set[str] = set()
    span = days * 86400
    with store.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # outside SQLAlchemy's transaction: the pragma is refused inside one
            conn.connection.driver_connection.execute("PRAGMA synchronous=OFF")
        while done < count:
            size = min(batch, count - done)
            summary_rows, event_rows, index_rows, criteria_rows, followup_rows, attempt_rows = [], [], [], [], [], []
            for _ in range(size):
                template, texts, turn_of, result_turns, first_person = rng.choice(
                    by_outcome[rng.choices(classes, class_weights)[0]])
                last_turn = len(template.turns) - 1
                if rng.random() < 0.3 and last_turn > 1:
                    last_turn = rng.randint(0, last_turn - 1)     # abandoned part way
                n_events, summary = template.turns[last_turn]
                sender = "seed-" + uuid.UUID(int=rng.getrandbits(128)).hex
                start = now.timestamp() - rng.random() * span
                stamps, t = [], start
                for _turn in range(last_turn + 1):
                    stamps.append(t)
                    t += rng.uniform(3, 60)
                last = stamps[-1]
                started_at = dt.datetime.fromtimestamp(start, dt.timezone.utc)
                given = [r for r in result_turns if r <= last_turn]
                completed_at = (dt.datetime.fromtimestamp(stamps[given[-1]], dt.timezone.utc)
                                if summary["completed"] and given else None)
                needs_person = first_person is not None and first_person <= last_turn
                status, visit_on = "new", None
                if summary["completed"] and needs_person:
                    path = rng.choices(paths, path_weights)[0]
                    at, previous = last + rng.uniform(3600, 5 * 86400), "new"
                    for step in path:
                        at += rng.uniform(3600, 7 * 86400)
                        when = dt.datetime.fromtimestamp(min(at, now.timestamp()), dt.timezone.utc)
                        if step == "screening_visit_scheduled":
                            visit_on = (when + dt.timedelta(days=rng.randint(3, 21))).date()
                        followup_rows.append({"conversation_id": sender, "at": when, "actor": SEED_STAFF,
                                              "status": step, "previous_status": previous, "note": None,
                                              "owner": None, "next_action_on": None, "visit_on": visit_on})
                        if step in ("contacted", "could_not_reach"):
                            tries = 1 if step == "contacted" else rng.randint(2, 3)
                            for n in range(tries):
                                result = "reached" if step == "contacted" and n == tries - 1 else rng.choice(
                                    ["no_answer", "left_message"])
                                attempt_rows.append({"conversation_id": sender, "at": when, "recorded_at": when,
                                                     "actor": SEED_STAFF, "method": "phone", "result": result,
                                                     "note": None})
                        previous = step
                    status = path[-1] if path else "new"
                elif summary["completed"] and rng.random() < 0.1:
                    status = "not_a_fit"     # a ruled-out patient told so by the team
                summary_row = dict(summary, id=sender, trial_id=template_trial(template), started_at=started_at,
                                   last_activity=dt.datetime.fromtimestamp(last, dt.timezone.utc),
                                   turns=last_turn + 1, status=status, eligible_from=_date(summary["eligible_from"]),
                                   completed_at=completed_at, visit_on=visit_on,
                                   needs_person_since=(dt.datetime.fromtimestamp(stamps[first_person], dt.timezone.utc)
                                                       if needs_person else None))
                if summary["completed"]:   # the rows the store's turn writes (bot/store.py)
                    criteria_rows += [{"conversation_id": sender, "criterion_id": k, "verdict": v,
                                       "started_at": started_at} for k, v in not_passed(summary.get("result")).items()]
                code = new_reference()
                while code in codes:   # unique in the database (about 7 collisions in 100,000 draws)
                    code = new_reference()
                codes.add(code)
                summary_row["reference"] = code
                if "last_seq" in conversations.c:   # the store's "last event number" (a later store version)
                    summary_row["last_seq"] = n_events
                if "language" in conversations.c:
                    summary_row["language"] = template.language
                summary_rows.append(summary_row)
                lines = []
                for seq in range(n_events):
                    ts = stamps[turn_of[seq]]
                    data = texts[seq].replace("%TS%", repr(ts))
                    kind = template.events[seq].get("event", "")
                    event_rows.append({"conversation_id": sender, "seq": seq + 1, "timestamp": ts, "type": kind,
                                       "data": data})
                    if kind == "user":
                        words = searchable_text(template.events[seq])
                        if words and words.split():
                            lines.append(" ".join(words.split()))
                if lines:
                    index_rows.append({"conversation_id": sender, "text": "\n".join(lines),
                                       **({"language": template.language} if "language" in transcript_index.c else {})})
            with conn.begin():
                conn.execute(insert(conversations), summary_rows)
                conn.execute(insert(events), event_rows)
                if index_rows:
                    conn.execute(insert(transcript_index), index_rows)
                for table, rows in ((result_criteria, criteria_rows), (followups, followup_rows),
                                    (contact_attempts, attempt_rows)):
                    if rows:
                        conn.execute(insert(table), rows)
            done += size
            if done % (batch * 20) == 0 or done == count:
                log(f"{done} conversations ({time.perf_counter() - started:.0f} s)")
        if sqlite:
            conn.connection.driver_connection.execute("ANALYZE")
        else:
            with conn.begin():
                conn.exec_driver_sql("ANALYZE")
    log(f"seeded {count} conversations into {store.engine.url.render_as_string(hide_password=True)} "
        f"in {time.perf_counter() - started:.0f} s")


def template_trial(template: Template) -> str:
    for event in template.events:
        if event.get("event") == "slot" and event.get("name") == "trial_id":
            return str(event.get("value"))
    return "unknown"


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.staff.seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000, help="how many to insert (default 1000)")
    settings = Settings.load()
    parser.add_argument("--database-url", default=settings.database_url,
                        help="SQLAlchemy URL (default: PRESCREEN_DATABASE_URL, see bot/config.py)")
    parser.add_argument("--criteria", default=settings.criteria,
                        help="criteria file the templates are made with (default: PRESCREEN_CRITERIA)")
    parser.add_argument("--templates", type=int, default=60, help="engine-made conversations to copy (default 60)")
    parser.add_argument("--days", type=int, default=365, help="spread start times over this many past days")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    parser.add_argument("--spanish", type=float, default=0.0,
                        help="the share of templates that talk in Spanish, 0 to 1 (default 0)")
    args = parser.parse_args(argv)
    seed(args.database_url, args.conversations, args.criteria, args.templates, args.days, args.seed,
         log=lambda m: print(m, file=sys.stderr), spanish=args.spanish)
    return 0


if __name__ == "__main__":
    sys.exit(main())
