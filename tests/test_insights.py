"""The insights page (/staff/insights) and its CSV, on a known set of conversations driven through the
real app (and a few follow-ups, contact attempts and times written straight into the tables):
every funnel step, the weeks, where people stop, the criteria, the median time to complete, the
90-day default, bad dates, the CSV against the page's tables, the charts and their tables, escaping,
login and the cross-site refusal; on SQLite, and on PostgreSQL the same numbers."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from sqlalchemy import insert, select, update

from actions.trial import load_trial
from bot.db.schema import contact_attempts, conversations, followups, result_criteria
from bot.staff import insights
from bot.store import Store
from dbkit import postgres_schema, postgres_url  # noqa: F401  (fixture)
from test_staff_helpers import (REAL_ABANDONED, REAL_LIKELY, REAL_TOO_YOUNG, TODAY, Chat, add_staff, csrf_app, login,
                                store_of)

ROOT = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("America/Los_Angeles")        # criteria.yaml's site
UTC = dt.timezone.utc
PATIENT_MARKUP = "<script>patientTyped()</script>"
# the real trial: "Not sure" about the lab results -> needs review; rituximab 2 months before TODAY -> a washout
REAL_REVIEW = REAL_LIKELY[:11] + ["tap:Not sure"] + REAL_LIKELY[12:]
REAL_WASHOUT = REAL_LIKELY[:15] + ["2 months ago"] + REAL_LIKELY[16:]
REAL_REVIEW_AND_WAIT = REAL_REVIEW[:15] + ["2 months ago"] + REAL_REVIEW[16:]   # both: needs review, with a wait
MINUTES = {"likely": 4, "young": 6, "review_wait": 8, "review": 10, "washout": 30, "outside": 100,
           "outside_young": 100}   # completed_at - started_at


class SpanishChat(Chat):
    def say(self, message: str) -> list[dict]:
        if message.startswith("tap:"):
            return super().say(message)
        self.replies = self.conversations.message(self.sender, message, {"today": TODAY, "language": "es"})
        return self.replies


def site_today() -> dt.date:
    return dt.datetime.now(ZONE).date()


def make_known_set(app) -> dict[str, str]:
    """The conversations every test below counts (all started now, one moved 200 days back)."""
    made = {}

    def chat(label: str, script: list[str], cls=Chat) -> Chat:
        made[label] = f"insights-{label}-conversation"
        return cls(app, made[label]).run(script)

    assert chat("likely", REAL_LIKELY).result["outcome"] == "likely_eligible"
    assert chat("young", REAL_TOO_YOUNG).result["outcome"] == "not_eligible"
    assert chat("review", REAL_REVIEW).result["outcome"] == "needs_review"
    assert chat("washout", REAL_WASHOUT).result["outcome"] == "eligible_after_washout"
    assert chat("review_wait", REAL_REVIEW_AND_WAIT).result["outcome"] == "needs_review"
    chat("gone", REAL_ABANDONED)                        # stopped at the third question (refractory)
    chat("hello", ["hi " + PATIENT_MARKUP])             # never started the questions
    chat("at_age", ["hi", "tap:Start"])                 # asked the first question, no answer yet
    spanish = chat("spanish", ["hola"], SpanishChat)    # in Spanish, at the first question
    spanish.say(next(b for r in spanish.replies for b in r.get("buttons") or [])["payload"])
    assert chat("outside", REAL_LIKELY).result["outcome"] == "likely_eligible"
    assert chat("outside_young", REAL_TOO_YOUNG).result["outcome"] == "not_eligible"

    engine = store_of(app).engine
    with engine.begin() as conn:
        rows = {r.id: r for r in conn.execute(select(conversations.c.id, conversations.c.started_at,
                                                     conversations.c.current_question, conversations.c.language))}
        assert rows[made["gone"]].current_question == "refractory"
        assert rows[made["at_age"]].current_question == "age"
        assert rows[made["hello"]].current_question is None
        assert (rows[made["spanish"]].current_question, rows[made["spanish"]].language) == ("age", "es")
        back = dt.timedelta(days=200)
        c = conversations.c
        for label in ("outside", "outside_young"):   # as if started 200 days ago
            conn.execute(update(conversations).where(c.id == made[label]).values(
                started_at=rows[made[label]].started_at - back))
            conn.execute(update(result_criteria).where(result_criteria.c.conversation_id == made[label]).values(
                started_at=rows[made[label]].started_at - back))
        for label, minutes in MINUTES.items():
            start = conn.execute(select(c.started_at).where(c.id == made[label])).scalar_one()
            conn.execute(update(conversations).where(c.id == made[label]).values(
                completed_at=start + dt.timedelta(minutes=minutes)))
        # the coordinator's work: likely -> contacted, visit, enrolled; review: one call attempt only;
        # washout: a visit date only; the one outside the range: enrolled
        now = dt.datetime.now(UTC)
        for label, statuses in (("likely", ["contacted", "screening_visit_scheduled", "enrolled"]),
                                ("outside", ["contacted", "enrolled"])):
            previous = "new"
            for status in statuses:
                conn.execute(insert(followups).values(conversation_id=made[label], at=now, actor="carol",
                                                      status=status, previous_status=previous))
                previous = status
            conn.execute(update(conversations).where(c.id == made[label]).values(status=previous))
        conn.execute(insert(contact_attempts).values(conversation_id=made["review"], at=now, recorded_at=now,
                                                     actor="carol", method="phone", result="no_answer"))
        # a visit date set without a status change, as bot/staff/work.py records it (a follow-up row too)
        visit = dt.date(2027, 1, 5)
        conn.execute(insert(followups).values(conversation_id=made["washout"], at=now, actor="carol", status="new",
                                              previous_status="new", visit_on=visit))
        conn.execute(update(conversations).where(c.id == made["washout"]).values(visit_on=visit))
        # the real trial offers no contact opt-in: a request as the store would record it
        conn.execute(update(conversations).where(c.id == made["review"]).values(contact_requested=True))
    return made


EXPECTED_FUNNEL = {"opened": 9, "started": 8, "completed": 5, "outcome_likely_eligible": 1,
                   "outcome_eligible_after_washout": 1, "outcome_needs_review": 2, "outcome_not_eligible": 1,
                   "contact_requested": 1, "contacted": 2, "visit_scheduled": 2, "enrolled": 1}
EXPECTED_DROPOFF = {"before_questions": 1, "age": 2, "refractory": 1}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def known(request, tmp_path_factory):
    """An app with the known set, on SQLite or on a PostgreSQL schema of its own."""
    folder = tmp_path_factory.mktemp("insights")
    if request.param == "sqlite":
        app = csrf_app(folder)
        add_staff(app, "carol")
        yield app, make_known_set(app)
        store_of(app).engine.dispose()
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), "insights") as url:
        app = csrf_app(folder, DATABASE_URL=url)
        add_staff(app, "carol")
        try:
            yield app, make_known_set(app)
        finally:
            store_of(app).engine.dispose()


@pytest.fixture()
def staff(known):
    client = known[0].test_client()
    assert login(client).status_code == 302
    return client


def table(page: str, table_id: str) -> dict[str, int]:
    """A figures table of the page: row key -> count."""
    match = re.search(rf'<table class="figures" id="{table_id}">(.*?)</table>', page, re.S)
    assert match, f"no table {table_id}"
    return {key: int(value) for key, value in
            re.findall(r'<tr data-key="([^"]+)">.*?data-value="(\d+)"', match.group(1), re.S)}


def shares(page: str, table_id: str) -> dict[str, str]:
    match = re.search(rf'<table class="figures" id="{table_id}">(.*?)</table>', page, re.S)
    return {key: share for key, share in
            re.findall(r'<tr data-key="([^"]+)">.*?data-value="\d+">[^<]*</td>\s*<td class="num">([^<]*)</td>',
                       match.group(1), re.S)}


def get(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


# -- the figures ------------------------------------------------------------------------------------

def test_every_funnel_step_counts_the_known_set(staff):
    page = get(staff, "/staff/insights")
    assert table(page, "funnel-table") == EXPECTED_FUNNEL
    got = shares(page, "funnel-table")
    assert got["opened"] == "100%" and got["started"] == "88.9%" and got["completed"] == "55.6%"
    assert got["enrolled"] == "11.1%"
    assert re.search(r'id="sum-opened">9<', page) and re.search(r'id="sum-completed">5<', page)


def test_the_language_filter_counts_only_that_language(staff):
    page = get(staff, "/staff/insights?language=es")
    funnel = table(page, "funnel-table")
    assert funnel["opened"] == 1 and funnel["started"] == 1 and funnel["completed"] == 0
    assert table(page, "dropoff-table") == {"age": 1}
    english = table(get(staff, "/staff/insights?language=en"), "funnel-table")
    assert english["opened"] == 8 and english["completed"] == 5
    assert "language Spanish" in page
    assert get(staff, "/staff/insights?language=xx", 400).count("Unknown language") == 1


def test_conversations_per_week_over_the_default_90_days(staff):
    page = get(staff, "/staff/insights")
    today = site_today()
    start = today - dt.timedelta(days=89)
    assert f"Conversations started {start.isoformat()} to {today.isoformat()}" in page
    weeks = table(page, "weeks-table")
    first_monday = start - dt.timedelta(days=start.weekday())
    assert list(weeks) == [(first_monday + dt.timedelta(weeks=n)).isoformat() for n in range(len(weeks))]
    this_monday = today - dt.timedelta(days=today.weekday())
    assert weeks[this_monday.isoformat()] == 9 and sum(weeks.values()) == 9   # not those 200 days back
    # a range that holds the conversation moved back, and only it
    back = (today - dt.timedelta(days=200))
    page = get(staff, f"/staff/insights?from={(back - dt.timedelta(days=3)).isoformat()}"
                      f"&to={(back + dt.timedelta(days=3)).isoformat()}")
    assert table(page, "funnel-table")["enrolled"] == 1 and table(page, "funnel-table")["opened"] == 2
    assert sum(table(page, "weeks-table").values()) == 2 and table(page, "ruled-table") == {"adult": 1}


def test_where_people_stop_in_the_criteria_files_order(staff):
    page = get(staff, "/staff/insights")
    dropoff = table(page, "dropoff-table")
    assert dropoff == EXPECTED_DROPOFF and list(dropoff) == ["before_questions", "age", "refractory"]
    assert "How old are you?" in page
    assert "Have you already tried other treatment for your scleroderma that did not help enough?" in page


def test_the_criteria_that_rule_out_and_send_to_review(known, staff):
    app, made = known
    page = get(staff, "/staff/insights")
    assert table(page, "ruled-table") == {"adult": 1}
    assert "The study is only for adults aged 18 or older." in page
    # the needs-review results: only the lab results are unknown (the one with a rituximab washout too
    # waits for it: not a reason for review); the too-young one's unknowns (questions never asked) sent
    # nobody to review
    assert table(page, "review-table") == {"blood_kidney_liver": 2}
    assert "The study team needs to check your blood, kidney and liver test results." in page
    assert table(page, "waits-table") == {"rituximab_washout": 2}
    assert shares(page, "review-table") == {"blood_kidney_liver": "100%"}
    assert shares(page, "waits-table") == {"rituximab_washout": "66.7%"}   # of 2 needing review + 1 washout
    with store_of(app).engine.connect() as conn:   # the young one's unknowns are in the table, not counted
        young = dict(conn.execute(select(result_criteria.c.criterion_id, result_criteria.c.verdict)
                                  .where(result_criteria.c.conversation_id == made["young"])).all())
    assert young["adult"] == "fail" and "unknown" in young.values()


def test_the_median_time_to_complete(staff):
    page = get(staff, "/staff/insights")
    assert 'data-minutes="8.0"' in page and "8.0 minutes" in page   # of 4, 6, 8, 10, 30; not those outside


def test_bad_dates_are_refused_with_a_message(staff):
    page = get(staff, "/staff/insights?from=2026-13-01", 400)
    assert "From date &#39;2026-13-01&#39; is not a date from 1900 to 2999 (YYYY-MM-DD)." in page
    assert 'id="funnel-table"' not in page
    page = get(staff, "/staff/insights?from=2026-11-20&to=2026-11-01", 400)
    assert "The from date (2026-11-20) is after the to date (2026-11-01)." in page
    assert "choose at most 731 days" in get(staff, "/staff/insights?from=2020-01-01&to=2026-01-01", 400)
    assert staff.get("/staff/insights.csv?to=yesterday").status_code == 400


def test_the_csv_has_the_numbers_of_the_pages_tables(known, staff):
    app, _ = known
    page = get(staff, "/staff/insights")
    response = staff.get("/staff/insights.csv", headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="prescreen-insights-')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["figure", "key", "label", "value", "percent"]
    by_figure: dict[str, dict[str, str]] = {}
    for figure, key, _label, value, _share in rows[1:]:
        by_figure.setdefault(figure, {})[key] = value
    for figure, table_id in (("funnel", "funnel-table"), ("week", "weeks-table"), ("stopped_at", "dropoff-table"),
                             ("ruled_out_by", "ruled-table"), ("review_because_of", "review-table"),
                             ("washout_wait", "waits-table")):
        assert {k: int(v) for k, v in by_figure[figure].items()} == table(page, table_id), figure
    assert by_figure["median_minutes_to_complete"] == {"minutes": "8.0", "count": "5"}
    assert by_figure["period"]["from"] == (site_today() - dt.timedelta(days=89)).isoformat()
    funnel_shares = {key: share for figure, key, _l, _v, share in rows[1:] if figure == "funnel"}
    assert funnel_shares["started"] == "88.9"
    entries = [e for e in store_of(app).audit_entries() if e["target"] == "insights"]
    assert entries[-1]["action"] == "export" and entries[-1]["actor"] == "carol"
    assert entries[-1]["detail"] == (f"started {(site_today() - dt.timedelta(days=89)).isoformat()} "
                                     f"to {site_today().isoformat()}")   # the range, never a figure
    views = [e for e in store_of(app).audit_entries() if e["action"] == "view_insights"]
    assert views and views[-1]["detail"].startswith("started ")


def test_each_chart_is_an_svg_image_with_a_title_and_its_table(staff):
    page = get(staff, "/staff/insights")
    for chart in ("funnel", "weeks", "dropoff", "ruled", "review", "waits"):
        svg = re.search(rf'<svg class="\w+" role="img" aria-labelledby="{chart}-title {chart}-desc"(.*?)</svg>',
                        page, re.S)
        assert svg, chart
        assert f'<title id="{chart}-title">' in svg.group(1) and f'<desc id="{chart}-desc">' in svg.group(1)
        assert page.index(f'id="{chart}-table"') > svg.end(), f"{chart}: its table follows the chart"
    assert "<script" not in page.lower()   # no JavaScript, no chart library
    assert len(re.findall(r'<rect class="fill"', page)) == 11 + 3 + 1 + 1 + 1   # bars of the horizontal charts
    assert 'href="/staff/insights"' in page   # the navigation's link


def test_the_patients_words_never_reach_the_page(staff):
    page = get(staff, "/staff/insights")
    assert "patientTyped" not in page and "hi " + html.escape(PATIENT_MARKUP) not in page


def test_the_page_and_the_csv_need_a_login(known):
    client = known[0].test_client()
    for url in ("/staff/insights", "/staff/insights.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_the_csv_is_refused_cross_site(known, staff):
    app, _ = known
    response = staff.get("/staff/insights.csv", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    last = store_of(app).audit_entries()[-1]
    assert (last["action"], last["target"]) == ("export_refused", "insights")


# -- criteria texts are escaped, CSV cells neutralised ------------------------------------------------

def test_criteria_file_texts_are_escaped_and_neutralised(tmp_path):
    text = (ROOT / "criteria.yaml").read_text(encoding="utf-8")
    question = "How old are you? <script>alert('q')</script>"
    reason = "=1+1 <img src=x onerror=alert(2)> adults only"
    text = text.replace("en: How old are you?", f'en: "{question}"', 1)
    text = text.replace("en: The study is only for adults aged 18 or older.", f'en: "{reason}"', 1)
    criteria = tmp_path / "criteria.yaml"
    criteria.write_text(text, encoding="utf-8")
    app = csrf_app(tmp_path, CRITERIA=str(criteria))
    add_staff(app, "carol")
    Chat(app, "escape-at-age-conversation").run(["hi", "tap:Start"])
    assert Chat(app, "escape-too-young-conversation").run(REAL_TOO_YOUNG).result["outcome"] == "not_eligible"
    client = app.test_client()
    assert login(client).status_code == 302
    page = get(client, "/staff/insights")
    assert "<script>alert(" not in page and "<img src=x" not in page
    assert str(escape(question)) in page and str(escape(reason)) in page
    assert table(page, "dropoff-table") == {"age": 1} and table(page, "ruled-table") == {"adult": 1}
    rows = list(csv.reader(io.StringIO(get(client, "/staff/insights.csv"))))
    assert ["ruled_out_by", "adult", "'" + reason, "1", "100.0"] in rows
    store_of(app).engine.dispose()


# -- site dates: the range's edges and the weeks, in the site's zone ------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'weeks.sqlite3'}")
        yield s
        s.engine.dispose()
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), "insights_weeks") as url:
        s = Store(url)
        try:
            yield s
        finally:
            s.engine.dispose()


def row(ident: str, started: dt.datetime, language: str = "en") -> dict:
    return {"id": ident, "trial_id": "T", "criteria_version": "1", "started_at": started, "last_activity": started,
            "turns": 1, "completed": False, "current_question": None, "outcome": None, "eligible_from": None,
            "contact_requested": False, "status": "new", "result": None, "language": language}


def local(day: str, time: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=ZONE).astimezone(UTC)


def test_weeks_start_on_monday_in_the_site_zone_and_the_range_keeps_to_site_dates(store):
    # 2026-03-08 (a Sunday) is the day the clocks go forward in Los Angeles
    rows = [row("sun-late", local("2026-03-08", "23:30")),      # Monday 07:30 UTC: still Sunday's week
            row("mon-early", local("2026-03-09", "00:10")),     # the next week
            row("before", local("2026-03-01", "23:59")),        # the day before the range
            row("first", local("2026-03-02", "00:00")),         # the range's first instant
            row("last", local("2026-03-15", "23:59")),          # the range's last day
            row("after", local("2026-03-16", "00:00"))]         # the day after
    with store.engine.begin() as conn:
        conn.execute(insert(conversations), rows)
    trial = load_trial(ROOT / "criteria.yaml")
    period = insights.Period(dt.date(2026, 3, 2), dt.date(2026, 3, 15))
    with store.engine.connect() as conn:
        data = insights.compute(conn, trial, period)
    assert [(w.start.isoformat(), w.value, w.partial) for w in data.weeks] == [
        ("2026-03-02", 2, False), ("2026-03-09", 2, False)]
    assert data.opened == 4 and data.dropoff[0].value == 4 and data.median_minutes is None


def test_with_no_dates_the_range_is_the_last_90_days():
    today = dt.date(2026, 11, 25)
    period, problems = insights.Period.from_args({}, today)
    assert not problems and (period.date_from, period.date_to) == (dt.date(2026, 8, 28), today)
    assert period.days == 90
    period, problems = insights.Period.from_args({"to": "2026-01-31"}, today)
    assert not problems and period.date_from == dt.date(2025, 11, 3)
    period, problems = insights.Period.from_args({"from": "2026-11-01"}, today)
    assert (period.date_from, period.date_to) == (dt.date(2026, 11, 1), today)
