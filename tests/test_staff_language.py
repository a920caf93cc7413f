"""The staff side of Spanish conversations (issue 15, item 5), on a real database (SQLite, and
PostgreSQL when PRESCREEN_TEST_POSTGRES_URL is set): the conversation's language kept by the store
(`conversations.language`, migration 0006), shown and filtered on the list, carried by the
exports; accent-insensitive search, Spanish stems on PostgreSQL; English criterion reasons and the
patient's own (Spanish) words, escaped, on the transcript.

Spanish conversations are written the way the engine stores them (events and the state snapshot
with the slot `language` = "es"), through the store's own turn."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import insert, select, text

from actions.evaluator import evaluate
from bot import db
from bot.db.schema import conversations, transcript_index
from bot.db.search import SqliteSearch, matching_documents, searchable_text, transcript_lines
from bot.engine import replay
from bot.staff.queries import Filters, list_page
from bot.staff.transcript import criteria_rows, english_reason
from bot.store import Store, language_of
from dbkit import postgres_schema, postgres_url  # noqa: F401  (fixture)
from test_schema import schema_differences
from test_staff_helpers import add_staff, csrf_app, login, store_of

ZONE = ZoneInfo("America/Los_Angeles")
TODAY = dt.date(2026, 11, 25)
SCRIPT = "<script>alert(1)</script>"
SPANISH_WORDS = f"tengo 17 años, tomé la pastilla ayer {SCRIPT}"
ADULT_REASON = "The study is only for adults aged 18 or older."   # criteria.yaml, criterion `adult`, fail


def spanish_reason(criterion_id: str) -> str:
    """A stand-in for the reason a Spanish patient read (the test only needs it to be recognisable)."""
    return f"Motivo en español del criterio {criterion_id}."


# -- databases -------------------------------------------------------------------------------

DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=DIALECTS)
def database_url(request, tmp_path):
    """A new, empty database: a SQLite file, or a PostgreSQL schema of its own (a skip locally
    without PRESCREEN_TEST_POSTGRES_URL, a failure in CI)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'language.sqlite3'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), "language") as url:
        yield url


@pytest.fixture()
def store(database_url):
    s = Store(database_url)
    yield s
    s.engine.dispose()


@pytest.fixture()
def app(database_url, tmp_path):
    application = csrf_app(tmp_path, DATABASE_URL=database_url)
    add_staff(application)
    yield application
    store_of(application).engine.dispose()


@pytest.fixture()
def staff(app):
    client = app.test_client()
    assert login(client).status_code == 302
    return client


# -- conversations, written as the engine stores them ---------------------------------------------

def state_json(slots: dict) -> str:
    return json.dumps({"slots": slots, "active_loop": None, "latest_message": {}, "latest_action": None,
                       "latest_bot_action": None})


def save_turn(store: Store, sender: str, events: list[dict], slots: dict, summary: dict | None = None,
              state: str | None = None) -> None:
    """One turn through the store (read, then save), as bot/conversation.py does it."""
    with store.turn(sender) as turn:
        seen = turn.read(None)
        turn.save(seen.last_seq, events, summary or {"current_question": None}, "NCT00506831", None, [],
                  state or state_json(slots))


def said(words: str, at: float = 1_796_000_000.0) -> dict:
    return {"event": "user", "text": words, "timestamp": at}


def language_rows(engine) -> dict[str, tuple[str, str | None]]:
    """conversation id -> (its language, its search document's language)."""
    with engine.connect() as conn:
        docs = dict(conn.execute(select(transcript_index.c.conversation_id, transcript_index.c.language)).all())
        return {cid: (language, docs.get(cid))
                for cid, language in conn.execute(select(conversations.c.id, conversations.c.language))}


def trial_of(app):
    return app.extensions["prescreen_trial"]


def result_conversation(app, sender: str, language: str, words: str) -> dict:
    """A finished conversation of the real trial, a too-young patient, in `language`: the age typed
    as `words`, the result as the patient read it (Spanish: every reason in Spanish). Its result."""
    trial = trial_of(app)
    result = evaluate(trial, {"age": 17}, TODAY)
    if language == "es":
        result = dict(result, language="es",
                      criteria=[dict(c, reason=spanish_reason(c["id"])) for c in result["criteria"]])
    else:
        result = dict(result, language="en")
    at = 1_796_000_000.0
    age = {"answers": {"age": 17}, "text": words, "status": "accepted", "estimate": False}
    events = [{"event": "action", "name": "action_session_start", "timestamp": at},
              {"event": "session_started", "timestamp": at},
              *([{"event": "slot", "name": "language", "value": "es", "timestamp": at}] if language == "es" else []),
              said("hola" if language == "es" else "hi", at),
              {"event": "bot", "text": "Pregunta 1 de 17\n¿Qué edad tiene?" if language == "es" else
               "Question 1 of 17\nHow old are you?",
               "data": {"custom": {"question": {"id": "age", "answer_ids": ["age"], "type": "age"}}}, "timestamp": at},
              {"event": "action", "name": "action_listen", "timestamp": at},
              said(words, at + 1),
              {"event": "slot", "name": "age", "value": age, "timestamp": at + 1},
              {"event": "bot", "text": "Resultado" if language == "es" else "Result",
               "data": {"custom": {"prescreen_result": result}}, "timestamp": at + 1},
              {"event": "slot", "name": "prescreen_result", "value": result, "timestamp": at + 1},
              {"event": "action", "name": "action_listen", "timestamp": at + 1}]
    dialogue = app.extensions["prescreen"].dialogue_engine.dialogue
    state = replay(dialogue, events)
    assert state.slots.get("language") == (language if language == "es" else None)
    summary = {"current_question": None, "completed": True, "outcome": result["outcome"], "result": result,
               "criteria_version": result["criteria_version"], "eligible_from": None}
    save_turn(store_of(app), sender, events, {}, summary, state.to_json())
    return result


def conversation_ids(page_html: str) -> list[str]:
    return re.findall(r'href="/staff/conversations/([^"?]+)', page_html)


def list_rows(page_html: str) -> dict[str, str]:
    """conversation id -> its row of the list (html)."""
    rows = re.findall(r"<tr>(.*?)</tr>", page_html.split("<tbody>", 1)[1], re.S)
    return {conversation_ids(r)[0]: r for r in rows if conversation_ids(r)}


# -- the store keeps the conversation's language ----------------------------------------------------

def test_the_language_of_a_state_is_its_slot_else_english():
    assert language_of(state_json({"language": "es"})) == "es"
    assert language_of(state_json({"language": "en"})) == "en"
    for slots in ({}, {"language": None}, {"language": ""}, {"language": 3}, {"language": "<b>"}):
        assert language_of(state_json(slots)) == "en", slots
    assert language_of("{}") == "en" and language_of("not json") == "en" and language_of("[]") == "en"


def test_the_store_fills_the_language_on_every_save(store):
    sender = "language-follows-the-slot-0001"
    save_turn(store, sender, [said("hello")], {})
    assert language_rows(store.engine)[sender] == ("en", "en")
    save_turn(store, sender, [{"event": "slot", "name": "language", "value": "es"}, said("hola")],
              {"language": "es"})
    assert language_rows(store.engine)[sender] == ("es", "es"), "the row and its search document"
    save_turn(store, sender, [said("sigo")], {"language": "es"})     # unchanged: still Spanish
    assert language_rows(store.engine)[sender] == ("es", "es")
    save_turn(store, sender, [{"event": "slot", "name": "language", "value": None}], {"language": None})
    assert language_rows(store.engine)[sender] == ("en", "en"), "no words this turn, the document follows"
    # a conversation whose first turn is Spanish, and whose first words come later
    first = "language-spanish-from-start-02"
    save_turn(store, first, [{"event": "slot", "name": "language", "value": "es"}], {"language": "es"})
    save_turn(store, first, [said("buenas tardes")], {"language": "es"})
    assert language_rows(store.engine)[first] == ("es", "es")


# -- the migration ---------------------------------------------------------------------------------

def test_upgrading_from_revision_0005_keeps_every_row_and_makes_it_english(database_url):
    """A database at the previous revision (0005) with conversations and search documents: after
    the upgrade, every row is kept as it was, in English, and the search folds accents."""
    engine = db.open_engine(database_url)
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        config = db.alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
        if sqlite:   # an index made with a tokenizer that keeps accents: 0006 must index every document anew
            conn.exec_driver_sql("DROP TABLE transcript_fts")
            conn.exec_driver_sql("CREATE VIRTUAL TABLE transcript_fts USING fts5(text, content='transcript_index',"
                                 " content_rowid='id', tokenize='ascii')")
        else:        # release 0.1 to 0005 made the English-only index
            conn.exec_driver_sql("CREATE INDEX ix_transcript_index_tsv ON transcript_index USING gin "
                                 "(to_tsvector('english', translate(text, '<>', '  ')))")
        for n, cid in enumerate(("old-one", "old-two")):
            conn.execute(text("INSERT INTO conversations (id, trial_id, started_at, last_activity, turns, last_seq,"
                              " completed, contact_requested, status, reference, outcome) VALUES (:id, 'T',"
                              " :at, :at, 2, 3, :done, false, 'contacted', :ref, :outcome)"),
                         {"id": cid, "at": dt.datetime(2026, 3, 1 + n, tzinfo=dt.timezone.utc), "done": n == 0,
                          "ref": f"K7Q-4M{n}", "outcome": "needs_review" if n == 0 else None})
        conn.execute(text("INSERT INTO transcript_index (conversation_id, text) VALUES ('old-one', :words),"
                          " ('old-two', 'my fingers hurt')"), {"words": "ayer tomé la pastilla"})
        if sqlite:
            SqliteSearch.reindex(conn)
        before = {table: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}")))
                  for table in ("conversations", "transcript_index")}
    if sqlite:   # the old tokenizer does not fold accents: "tome" does not find "tomé" yet
        with engine.connect() as conn:
            assert conn.execute(text("SELECT rowid FROM transcript_fts WHERE transcript_fts MATCH 'tome'")).all() == []
    engine.dispose()

    store = Store(database_url)
    try:
        assert db.current_revision(store.engine) == db.head()
        with store.engine.connect() as conn:
            after = {table: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}")))
                     for table in ("conversations", "transcript_index")}
        for table in after:   # every row, every column as it was, and then the language: English
            width = len(before[table][0])   # (revision 0007 adds columns to conversations after it)
            assert [r[:width] for r in after[table]] == before[table], table
            assert {r[width] for r in after[table]} == {"en"}, table
        assert language_rows(store.engine) == {"old-one": ("en", "en"), "old-two": ("en", "en")}
        assert schema_differences(store.engine) == []
        for word in ("tome", "tomé", "TOMÉ"):
            assert found(store, word) == ["old-one"], word
        assert found(store, "fingers") == ["old-two"]
        with store.engine.connect() as conn:
            if sqlite:
                fts = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'transcript_fts'").scalar()
                assert "remove_diacritics 2" in fts
            else:
                index = conn.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = "
                                             "'ix_transcript_index_tsv' AND schemaname = current_schema()").scalar()
                assert "'spanish'" in index and "'english'" in index
        filters, _ = Filters.from_args({"language": "en", "status": "contacted"})
        assert ids(store, filters) == ["old-two", "old-one"]
        assert ids(store, Filters(language="es")) == []
    finally:
        store.engine.dispose()


# -- the list ----------------------------------------------------------------------------------------

def found(store: Store, query: str) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(matching_documents(conn.dialect.name, query)))


def ids(store: Store, filters: Filters = Filters()) -> list[str]:
    with store.engine.connect() as conn:
        return [r["id"] for r in list_page(conn, filters, ZONE).rows]


def put(store: Store, rows: list[tuple[str, str, str | None, list[str]]]) -> None:
    """(id, language, outcome, the patient's messages) rows, one hour apart, the first oldest."""
    base = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
    with store.engine.begin() as conn:
        for n, (cid, language, outcome, messages) in enumerate(rows):
            at = base + dt.timedelta(hours=n)
            conn.execute(insert(conversations).values(
                id=cid, trial_id="T", started_at=at, last_activity=at, turns=1, last_seq=1,
                completed=outcome is not None, outcome=outcome, contact_requested=False, status="new",
                language=language))
            if messages:
                conn.execute(insert(transcript_index).values(
                    conversation_id=cid, language=language,
                    text=transcript_lines([{"event": "user", "text": m} for m in messages])))


@pytest.fixture()
def mixed(store):
    put(store, [("en-1", "en", "not_eligible", ["I took the tablets"]),
                ("es-1", "es", "not_eligible", ["hola", "ayer tomé la pastilla"]),
                ("en-2", "en", "needs_review", ["tomé is a word I typed"]),
                ("es-2", "es", None, ["no sé", "me duelen los dedos"])])
    return store


def test_the_list_filters_by_language_with_the_other_filters(mixed):
    assert ids(mixed, Filters(language="es")) == ["es-2", "es-1"]
    assert ids(mixed, Filters(language="en")) == ["en-2", "en-1"]
    filters, problems = Filters.from_args({"language": "es", "outcome": "not_eligible"})
    assert problems == [] and ids(mixed, filters) == ["es-1"]
    assert filters.as_args() == {"outcome": "not_eligible", "language": "es"}
    assert "language Spanish" in filters.describe()
    with mixed.engine.connect() as conn:
        counted = list_page(conn, Filters(language="es"), ZONE).counts
    assert (counted.started, counted.completed, counted.outcomes["not_eligible"]) == (2, 1, 1)
    filters, problems = Filters.from_args({"language": "fr"})
    assert filters.language is None and problems == ["Unknown language 'fr'."]


def test_the_list_page_shows_and_filters_the_language(app, staff):
    result_conversation(app, "spanish-patient-conversation-1", "es", SPANISH_WORDS)
    result_conversation(app, "english-patient-conversation-1", "en", "I'm 17")
    page = staff.get("/staff/conversations").get_data(as_text=True)
    rows = list_rows(page)
    assert set(rows) == {"spanish-patient-conversation-1", "english-patient-conversation-1"}
    assert '<span title="Spanish (es)">Español</span>' in rows["spanish-patient-conversation-1"]
    assert '<span title="English (en)">English</span>' in rows["english-patient-conversation-1"]
    assert '<th scope="col">Language</th>' in page

    response = staff.get("/staff/conversations?language=es&outcome=not_eligible&contact=no")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert list(list_rows(page)) == ["spanish-patient-conversation-1"]
    assert '<option value="es" title="Spanish (es)" selected>Español</option>' in page
    assert '<option value="not_eligible" selected>' in page and '<option value="no" selected>' in page
    assert 'id="count-started">1<' in page
    exports = re.findall(r'href="(/staff/export\?[^"]+)"', page)
    assert exports and all("language=es" in e and "outcome=not_eligible" in e and "contact=no" in e for e in exports)
    assert list(list_rows(staff.get("/staff/conversations?language=en").get_data(as_text=True))) == \
        ["english-patient-conversation-1"]

    refused = staff.get("/staff/conversations?language=klingon")
    assert refused.status_code == 400 and "Unknown language" in refused.get_data(as_text=True)


# -- the exports ---------------------------------------------------------------------------------------

def test_the_exports_carry_the_language(app, staff, database_url, monkeypatch):
    result_conversation(app, "spanish-patient-conversation-1", "es", SPANISH_WORDS)
    result_conversation(app, "english-patient-conversation-1", "en", "I'm 17")
    rows = list(csv.DictReader(io.StringIO(staff.get("/staff/export?format=csv").get_data(as_text=True))))
    assert {r["conversation_id"]: r["language"] for r in rows} == {
        "spanish-patient-conversation-1": "es", "english-patient-conversation-1": "en"}
    only = list(csv.DictReader(io.StringIO(staff.get("/staff/export?format=csv&language=es").get_data(as_text=True))))
    assert [r["conversation_id"] for r in only] == ["spanish-patient-conversation-1"]
    assert only[0]["age"] == "17"
    document = json.loads(staff.get("/staff/export?format=json").get_data(as_text=True))
    assert {c["id"]: c["language"] for c in document["conversations"]} == {
        "spanish-patient-conversation-1": "es", "english-patient-conversation-1": "en"}
    spanish = json.loads(staff.get("/staff/export?format=json&language=es").get_data(as_text=True))
    assert spanish["filters"] == {"language": "es"} and spanish["count"] == 1
    assert spanish["conversations"][0]["answers"]["age"]["words"] == SPANISH_WORDS

    # `prescreen export`, on the same database
    from click.testing import CliRunner
    from bot.cli import main
    from test_staff_helpers import ROOT
    monkeypatch.setenv("PRESCREEN_DATABASE_URL", database_url)
    monkeypatch.setenv("PRESCREEN_CRITERIA", str(ROOT / "criteria.yaml"))
    out = CliRunner().invoke(main, ["export", "--format", "csv"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert {r["conversation_id"]: r["language"] for r in csv.DictReader(io.StringIO(out.stdout))} == {
        "spanish-patient-conversation-1": "es", "english-patient-conversation-1": "en"}
    out = CliRunner().invoke(main, ["export", "--format", "json", "--language", "es"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert [(c["id"], c["language"]) for c in json.loads(out.stdout)["conversations"]] == \
        [("spanish-patient-conversation-1", "es")]
    assert CliRunner().invoke(main, ["export", "--format", "csv", "--language", "fr"]).exit_code != 0


# -- search ----------------------------------------------------------------------------------------------

def test_search_ignores_accents(mixed):
    for query in ("tomé", "tome", "TOME", "Tomé", "tome\u0301"):    # the last: e and a combining accent
        assert found(mixed, query) == ["en-2", "es-1"], query
    assert found(mixed, "pastilla tomé") == ["es-1"]
    assert found(mixed, "se") == ["es-2"]                  # "no sé"
    assert found(mixed, "dedos") == ["es-2"]
    with mixed.engine.connect() as conn:
        matches = list_page(conn, Filters(query="tome", language="es"), ZONE).matches
    assert matches == {"es-1": "ayer tomé la pastilla"}   # the message shown beside the row


def test_an_accent_typed_as_a_separate_mark_is_folded_too(store):
    put(store, [("es-nfd", "es", None, ["me canse\u0301 mucho"]), ("en-other", "en", None, ["tired"])])
    for query in ("canse", "cansé", "canse\u0301"):
        assert found(store, query) == ["es-nfd"], query
    with store.engine.connect() as conn:
        stored = conn.execute(select(transcript_index.c.text)
                              .where(transcript_index.c.conversation_id == "es-nfd")).scalar_one()
    assert stored == "me cansé mucho", "the search document holds the composed letter"


def test_search_finds_spanish_stems_where_the_database_can(mixed):
    # a plural finds the singular on both (SQLite: porter's rule for a final "s" happens to fit)
    assert found(mixed, "pastillas") == ["es-1"]
    if mixed.engine.dialect.name != "postgresql":
        return   # SQLite's FTS5 has no Spanish stemmer
    # PostgreSQL: the Spanish configuration for Spanish conversations ("tomar", "tomaba": "tomé")
    assert found(mixed, "tomar") == ["es-1"], "only the Spanish conversation is read with Spanish stems"
    assert found(mixed, "tomaba") == ["es-1"]
    assert found(mixed, "duele dedo") == ["es-2"]
    assert found(mixed, "tablet") == ["en-1"], "English conversations keep the English configuration"
    with mixed.engine.connect() as conn:   # both through the one GIN index
        conn.exec_driver_sql("SET enable_seqscan = off")
        query = matching_documents("postgresql", "tomar")
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    assert "ix_transcript_index_tsv" in plan, plan


def test_a_language_switch_is_not_searchable_words():
    assert searchable_text({"event": "user", "text": '/switch_language{"language":"es"}'}) is None
    assert searchable_text({"event": "user", "text": "español"}) == "español"


def test_the_list_page_finds_spanish_words_without_their_accents(app, staff):
    result_conversation(app, "spanish-patient-conversation-1", "es", SPANISH_WORDS)
    result_conversation(app, "english-patient-conversation-1", "en", "I'm 17")
    page = staff.get("/staff/conversations?q=tome+pastilla").get_data(as_text=True)
    rows = list_rows(page)
    assert list(rows) == ["spanish-patient-conversation-1"]
    assert html.escape(SPANISH_WORDS) in rows["spanish-patient-conversation-1"]   # the matching words, escaped
    assert SCRIPT not in page


# -- the transcript -------------------------------------------------------------------------------------

def criteria_table(page_html: str) -> str:
    return re.search(r'<table class="criteria">.*?</table>', page_html, re.S).group(0)


def test_the_transcript_of_a_spanish_conversation_gives_english_reasons_and_the_patients_words(app, staff):
    result = result_conversation(app, "spanish-patient-conversation-1", "es", SPANISH_WORDS)
    page = staff.get("/staff/conversations/spanish-patient-conversation-1").get_data(as_text=True)
    assert '<dd id="language"><span title="Spanish (es)">Español</span></dd>' in page

    table = criteria_table(page)
    assert ADULT_REASON in table
    english = trial_of(app).for_language("en")
    for kind, criterion in english.criteria():
        verdict = next(c["verdict"] for c in result["criteria"] if c["id"] == criterion.id)
        expected = {"fail": criterion.reasons.fail, "unknown": criterion.reasons.unknown,
                    "pass": criterion.reasons.pass_}[verdict]
        assert html.escape(expected, quote=False) in table, criterion.id
        assert spanish_reason(criterion.id) not in table, "never the stored (Spanish) reason"
    assert "the patient read them in Spanish (es)" in table

    # the answers table: the value, and beside it the patient's own words, as text
    row = re.search(r'<th scope="row"><code>age</code></th>.*?</tr>', page, re.S).group(0)
    assert '<td class="value"><strong>17</strong>' in row
    assert f'<td class="said">{html.escape(SPANISH_WORDS, quote=True)}</td>' in row
    assert SCRIPT not in page and "<script>alert" not in page


def test_an_english_conversation_keeps_its_english_reasons(app, staff):
    result_conversation(app, "english-patient-conversation-1", "en", "I'm 17")
    page = staff.get("/staff/conversations/english-patient-conversation-1").get_data(as_text=True)
    assert '<dd id="language"><span title="English (en)">English</span></dd>' in page
    assert ADULT_REASON in criteria_table(page) and "the patient read them in" not in criteria_table(page)


def test_english_reasons_come_from_the_criterion_and_its_verdict(app):
    trial = trial_of(app)
    ivig = next(c for _, c in trial.criteria() if c.id == "ivig_washout")
    assert english_reason(trial, {"id": "adult", "verdict": "fail"}) == ADULT_REASON
    assert english_reason(trial, {"id": "ivig_washout", "verdict": "wait"}) == ivig.reasons.wait
    assert english_reason(trial, {"id": "ivig_washout", "verdict": "unknown",
                                  "answers": {"ivig_last_dose": "current"}}) == ivig.reasons.current
    assert english_reason(trial, {"id": "ivig_washout", "verdict": "unknown",
                                  "answers": {"ivig_last_dose": None}}) == ivig.reasons.unknown
    assert english_reason(trial, {"id": "no_such_criterion", "verdict": "fail"}) is None
    gone = {"id": "no_such_criterion", "kind": "exclusion", "verdict": "fail", "reason": "Ya no está."}
    spanish = criteria_rows(trial, {"language": "es", "criteria": [gone]})
    assert (spanish[0].reason, spanish[0].derived) == ("", False)          # never the Spanish words as English
    english = criteria_rows(trial, {"language": "en", "criteria": [dict(gone, reason="No longer listed.")]})
    assert english[0].reason == "No longer listed."


# -- a real Spanish conversation, through the engine --------------------------------------------------

def test_a_spanish_conversation_through_the_engine_reaches_the_staff_pages_in_english(app, staff):
    """A patient whose widget speaks Spanish (metadata.language), typing their age in Spanish: the
    store marks the conversation Spanish; staff read English reasons and the patient's own words."""
    conversations = app.extensions["prescreen"]
    sender = "spanish-through-the-engine-01"
    typed = f"tengo 17 años, tomé {SCRIPT}"
    for message in ("hola", "/affirm", typed, '/inform{"age":"yes"}', "/affirm"):
        replies = conversations.message(sender, message, {"today": TODAY.isoformat(), "language": "es"})
    result = next(r["custom"]["prescreen_result"] for r in replies if "prescreen_result" in (r.get("custom") or {}))
    assert result["language"] == "es" and result["outcome"] == "not_eligible"
    stored_reason = next(c["reason"] for c in result["criteria"] if c["id"] == "adult")
    assert stored_reason != ADULT_REASON, "the patient read the reason in Spanish"
    assert language_rows(store_of(app).engine)[sender] == ("es", "es")

    listed = list_rows(staff.get("/staff/conversations").get_data(as_text=True))
    assert '<span title="Spanish (es)">Español</span>' in listed[sender]
    assert list(list_rows(staff.get("/staff/conversations?language=es&q=tome").get_data(as_text=True))) == [sender]
    page = staff.get(f"/staff/conversations/{sender}").get_data(as_text=True)
    table = criteria_table(page)
    assert ADULT_REASON in table and html.escape(stored_reason, quote=False) not in table
    row = re.search(r'<th scope="row"><code>age</code></th>.*?</tr>', page, re.S).group(0)
    assert '<td class="value"><strong>17</strong>' in row and f'<td class="said">{html.escape(typed)}</td>' in row
    assert SCRIPT not in page

    # the patient switches to English: the conversation is English from then on
    conversations.message(sender, '/switch_language{"language":"en"}', {"today": TODAY.isoformat()})
    assert language_rows(store_of(app).engine)[sender] == ("en", "en")
    assert found(store_of(app), "en") == [], "the switch's language code is not the patient's words"
