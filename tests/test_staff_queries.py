"""The staff list's queries: filters, full-text search, pagination and summary counts,
on summary rows written straight into a fresh SQLite store."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from bot.db.schema import conversations, transcript_index
from bot.db.search import transcript_lines
from bot.staff.queries import Filters, counts, list_page
from bot.store import Store
from dbkit import postgres_schema, postgres_url  # noqa: F401  (fixture)

ZONE = ZoneInfo("America/Los_Angeles")
UTC = dt.timezone.utc
BASE = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(ident: str, started: dt.datetime, outcome: str | None = None, status: str = "new",
        contact: bool = False, completed: bool | None = None, question: str | None = None) -> dict:
    return {"id": ident, "trial_id": "T", "criteria_version": "1", "started_at": started,
            "last_activity": started + dt.timedelta(minutes=5), "turns": 3,
            "completed": outcome is not None if completed is None else completed, "current_question": question,
            "outcome": outcome, "eligible_from": None, "contact_requested": contact, "status": status,
            "result": None}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    """A fresh store on SQLite (FTS5), or on PostgreSQL (tsvector) in a schema of its own
    (PostgreSQL: a skip locally without PRESCREEN_TEST_POSTGRES_URL, a failure in CI)."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'q.sqlite3'}")
        yield s
        s.engine.dispose()
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), "staff_test") as url:
        s = Store(url)
        try:
            yield s
        finally:
            s.engine.dispose()


def put(store, rows, said: dict[str, list[str]] | None = None):
    with store.engine.begin() as conn:
        conn.execute(insert(conversations), rows)
        for ident, texts in (said or {}).items():
            words = transcript_lines([{"event": "user", "text": t} for t in texts])
            conn.execute(insert(transcript_index).values(conversation_id=ident, text=words))


def page(store, filters=Filters(), number=1, per_page=50):
    with store.engine.connect() as conn:
        return list_page(conn, filters, ZONE, number, per_page)


def ids(p) -> list[str]:
    return [r["id"] for r in p.rows]


@pytest.fixture()
def mixed(store):
    """Eight conversations, one hour apart (c0 oldest), with every kind of summary."""
    specs = [
        ("c0", "likely_eligible", "new", False),
        ("c1", "not_eligible", "not_a_fit", False),
        ("c2", "needs_review", "contacted", True),
        ("c3", "needs_review", "new", True),
        ("c4", "eligible_after_washout", "new", False),
        ("c5", None, "new", False),
        ("c6", None, "new", False),
        ("c7", "likely_eligible", "enrolled", True),
    ]
    put(store, [row(i, BASE + dt.timedelta(hours=n), o, s, c, question=None if o else "diagnosis")
                for n, (i, o, s, c) in enumerate(specs)],
        said={"c2": ["I have ulcers on my fingers"], "c3": ["ulcer on a toe", "not sure about the rest"],
              "c5": ["<script>alert(1)</script>"], "c6": ["Yes, the diffuse type"]})
    return store


def test_newest_first_without_filters(mixed):
    assert ids(page(mixed)) == ["c7", "c6", "c5", "c4", "c3", "c2", "c1", "c0"]


@pytest.mark.parametrize("args, expected", [
    ({"outcome": "needs_review"}, ["c3", "c2"]),
    ({"outcome": "likely_eligible"}, ["c7", "c0"]),
    ({"outcome": "none"}, ["c6", "c5"]),
    ({"status": "new"}, ["c6", "c5", "c4", "c3", "c0"]),
    ({"status": "contacted"}, ["c2"]),
    ({"contact": "yes"}, ["c7", "c3", "c2"]),
    ({"contact": "no"}, ["c6", "c5", "c4", "c1", "c0"]),
    ({"outcome": "needs_review", "status": "new", "contact": "yes"}, ["c3"]),
    ({"q": "ulcers"}, ["c3", "c2"]),             # stemmed: "ulcer" matches too
    ({"q": "ULCER finger"}, ["c2"]),             # every word must match; case does not matter
    ({"q": "script alert"}, ["c5"]),
    ({"q": "diffuse", "outcome": "none"}, ["c6"]),
    ({"q": "nothing-like-this"}, []),
    ({"q": "\"*:()^"}, ["c7", "c6", "c5", "c4", "c3", "c2", "c1", "c0"]),   # no words: no search
])
def test_filters(mixed, args, expected):
    filters, problems = Filters.from_args(args)
    assert problems == []
    assert ids(page(mixed, filters)) == expected


def test_bad_filter_values_are_reported_and_dropped():
    filters, problems = Filters.from_args({"outcome": "maybe", "status": "lost", "contact": "perhaps",
                                           "from": "2026-02-30", "to": "yesterday"})
    assert filters == Filters()
    assert len(problems) == 5


def test_date_range_is_in_the_site_time_zone(store):
    # 2026-03-01 07:00 UTC is still 28 February in Los Angeles
    put(store, [row("feb", dt.datetime(2026, 3, 1, 7, 0, tzinfo=UTC)),
                row("mar1", dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
                row("mar2-late", dt.datetime(2026, 3, 3, 7, 59, tzinfo=UTC)),    # 2 March 23:59 local
                row("mar3", dt.datetime(2026, 3, 3, 8, 0, tzinfo=UTC))])         # 3 March 00:00 local
    filters, _ = Filters.from_args({"from": "2026-03-01", "to": "2026-03-02"})
    assert ids(page(store, filters)) == ["mar2-late", "mar1"]
    filters, _ = Filters.from_args({"to": "2026-02-28"})
    assert ids(page(store, filters)) == ["feb"]
    filters, _ = Filters.from_args({"from": "2026-03-03"})
    assert ids(page(store, filters)) == ["mar3"]


def test_counts_are_for_the_filtered_set(mixed):
    with mixed.engine.connect() as conn:
        everything = counts(conn, Filters(), ZONE)
        assert (everything.started, everything.completed, everything.contact_requests) == (8, 6, 3)
        assert everything.outcomes == {"likely_eligible": 2, "eligible_after_washout": 1, "needs_review": 2,
                                       "not_eligible": 1}
        new = counts(conn, Filters(status="new"), ZONE)
        assert (new.started, new.completed, new.contact_requests) == (5, 3, 1)
        assert new.outcomes == {"likely_eligible": 1, "eligible_after_washout": 1, "needs_review": 1,
                                "not_eligible": 0}
        searched = counts(conn, Filters(query="ulcer"), ZONE)
        assert (searched.started, searched.contact_requests, searched.outcomes["needs_review"]) == (2, 2, 2)


def test_counts_of_an_empty_set_are_zero(store):
    with store.engine.connect() as conn:
        empty = counts(conn, Filters(), ZONE)
    assert (empty.started, empty.completed, empty.contact_requests) == (0, 0, 0)
    assert set(empty.outcomes.values()) == {0}
    assert page(store).pages == 1 and page(store).rows == []


def test_pagination(store):
    put(store, [row(f"p{n:03d}", BASE + dt.timedelta(minutes=n), "needs_review" if n % 2 else None)
                for n in range(120)])
    first, third = page(store, per_page=50), page(store, number=3, per_page=50)
    assert (first.total, first.pages, len(first.rows)) == (120, 3, 50)
    assert ids(first)[:2] == ["p119", "p118"] and ids(third)[-1] == "p000" and len(third.rows) == 20
    assert first.has_next and not first.has_previous and third.has_previous and not third.has_next
    assert set(ids(first)) | set(ids(page(store, number=2))) | set(ids(third)) == {f"p{n:03d}" for n in range(120)}
    assert ids(page(store, number=99)) == ids(third)          # past the end: the last page
    filtered = page(store, Filters(outcome="needs_review"), number=2, per_page=50)
    assert (filtered.total, filtered.pages, len(filtered.rows)) == (60, 2, 10)
    assert all(int(i[1:]) % 2 == 1 for i in ids(filtered))


def test_same_start_time_is_ordered_by_id_and_pages_do_not_overlap(store):
    put(store, [row(f"s{n}", BASE) for n in range(7)])
    seen = ids(page(store, per_page=3)) + ids(page(store, number=2, per_page=3)) + ids(page(store, number=3, per_page=3))
    assert seen == [f"s{n}" for n in reversed(range(7))]


def test_search_shows_the_matching_message(mixed):
    result = page(mixed, Filters(query="ulcer"))
    assert result.matches == {"c2": "I have ulcers on my fingers", "c3": "ulcer on a toe"}
    assert page(mixed, Filters(query="sure rest")).matches == {"c3": "not sure about the rest"}


def test_a_conversation_is_one_document_growing_turn_by_turn(store):
    """The store's turns append the patient's words (not the bot's, not bare payloads) to one document."""
    first = [{"event": "user", "text": "first  words\nsplit"}, {"event": "bot", "text": "hello"}]
    later = [{"event": "user", "text": "later words"}, {"event": "bot", "text": "bot words"},
             {"event": "user", "text": "/affirm"}]
    summary = {"current_question": "age", "contact_requested": False}
    with store.turn("g") as session:
        session.save(0, first, summary, "T", None, [], "{}")
    with store.turn("g") as session:
        session.save(len(first), later, summary, "T", None, [], "{}")
    with store.engine.connect() as conn:
        docs = conn.execute(select(transcript_index.c.conversation_id, transcript_index.c.text)).all()
    assert docs == [("g", "first words split\nlater words")]
    assert ids(page(store, Filters(query="first later"))) == ["g"]      # words of two turns
    assert ids(page(store, Filters(query="bot"))) == []                  # only the patient's words


def test_forgetting_a_conversation_removes_it_from_the_search(mixed):
    with mixed.turn("c2") as session:
        session.delete("test")
    assert ids(page(mixed, Filters(query="ulcer"))) == ["c3"]
    with mixed.engine.connect() as conn:
        assert conn.execute(select(transcript_index).where(transcript_index.c.conversation_id == "c2")).all() == []


def test_button_payloads_are_indexed_as_their_words(store):
    from bot.db.search import searchable_text
    assert searchable_text({"event": "user", "text": '/inform{"diagnosis":"Yes, the limited type"}'}) \
        == "Yes, the limited type"
    assert searchable_text({"event": "user", "text": "/affirm"}) is None
    assert searchable_text({"event": "user", "text": "/not json{"}) == "/not json{"
    assert searchable_text({"event": "bot", "text": "hello"}) is None
    # a JSON escape of a lone surrogate cannot be stored as UTF-8: it becomes U+FFFD
    assert searchable_text({"event": "user", "text": '/inform{"age": "\\ud83d 54"}'}) == "\ufffd 54"


def test_a_tapped_button_is_indexed_by_its_title_in_the_patients_language():
    """Buttons send ids; the answer recorded in the same turn keeps the title the patient saw."""
    from bot.db.search import transcript_lines
    turn = [{"event": "user", "text": '/inform{"diagnosis":"diffuse"}'},
            {"event": "slot", "name": "requested_slot", "value": "diagnosis"},
            {"event": "slot", "name": "diagnosis", "value": {"text": "Sí, el tipo difuso", "answers": {}}}]
    assert transcript_lines(turn) == "Sí, el tipo difuso"
    assert transcript_lines(turn[:1]) == "diffuse"      # no answer recorded (a stale tap): the id


def test_index_is_built_from_the_event_log_of_an_older_database(tmp_path):
    """A database that had conversations before the staff screens gets its index on first start."""
    from sqlalchemy import create_engine
    from bot.db.schema import events
    import json

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = create_engine(url)   # the store's tables only, as before the staff screens existed
    with old.begin() as conn:
        conversations.create(conn)
        events.create(conn)
        conn.execute(insert(conversations), [row("old", BASE)])
        conn.execute(insert(events), [{"conversation_id": "old", "seq": 1, "timestamp": 1.0, "type": "user",
                                       "data": json.dumps({"event": "user", "text": "my fingertips hurt"})}])
    old.dispose()
    store = Store(url)
    assert ids(page(store, Filters(query="fingertips"))) == ["old"]
    store.engine.dispose()
