"""The REDCap and FHIR downloads on the staff list (CSRF on, a logged-in coordinator), and the times of
every export in the site's zone with its offset (a zone with daylight saving time)."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from test_staff_helpers import (FICTIONAL, FICTIONAL_TO_RESULT, REAL_LIKELY, Chat, add_staff, csrf_app, login,
                                store_of)

NEW_FORMATS = ("redcap-dictionary", "redcap", "fhir-questionnaire", "fhir")
LIKELY, SPANISH = "web-export-likely-01", "web-export-spanish-1"


@pytest.fixture()
def app(tmp_path):
    app = csrf_app(tmp_path)
    add_staff(app, "carol")
    Chat(app, LIKELY).run(REAL_LIKELY)
    chat = Chat(app, SPANISH)
    chat.replies = app.extensions["prescreen"].message(SPANISH, "hola", {"today": "2026-11-25", "language": "es"})
    chat.run(["tap:Empezar", "60", "tap:Sí, el tipo limitado", "tap:No", "tap:Está bien, ver mi resultado"])
    return app


@pytest.fixture()
def staff(app):
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def list_url(app) -> str:
    """The page that lists every conversation (staff/list.html): /staff/, or /staff/conversations
    where the work queue took /staff/ (issue 16)."""
    with app.test_request_context():
        from flask import url_for
        endpoint = "staff.conversations_list" if "staff.conversations_list" in app.view_functions else "staff.index"
        return url_for(endpoint)


def audit_of(app):
    return [(e["actor"], e["action"], e["target"], e["detail"]) for e in store_of(app).audit_entries()]


def reference_of(app, sender: str) -> str:
    from sqlalchemy import select
    from bot.db.schema import conversations
    with store_of(app).engine.connect() as conn:
        return conn.execute(select(conversations.c.reference).where(conversations.c.id == sender)).scalar_one()


def test_the_list_offers_the_new_formats_for_its_filters(app, staff):
    page = staff.get(list_url(app) + "?outcome=likely_eligible").get_data(as_text=True)
    links = {name: html.unescape(href) for href, name in re.findall(r'href="([^"]+)" id="export-([a-z-]+)"', page)}
    assert links["redcap"] == "/staff/export?format=redcap&outcome=likely_eligible"
    assert links["fhir"] == "/staff/export?format=fhir&outcome=likely_eligible"
    # made from the criteria file: the filters change nothing in them (and are not audited)
    assert links["redcap-dictionary"] == "/staff/export?format=redcap-dictionary&outcome=likely_eligible"
    assert links["fhir-questionnaire"] == "/staff/export?format=fhir-questionnaire&outcome=likely_eligible"
    assert links["csv"] == "/staff/export?format=csv&outcome=likely_eligible"


def test_the_downloads_match_each_other_follow_the_filters_and_are_audited(app, staff):
    bodies = {}
    for kind in NEW_FORMATS:
        response = staff.get(f"/staff/export?format={kind}&language=es")
        assert response.status_code == 200, kind
        assert response.headers["Cache-Control"] == "no-store"
        suffix = "csv" if kind.startswith("redcap") else "json"
        assert re.fullmatch(rf'attachment; filename="prescreen-{kind}-\d{{8}}-\d{{6}}\.{suffix}"',
                            response.headers["Content-Disposition"]), response.headers["Content-Disposition"]
        assert response.mimetype == ("text/csv" if kind.startswith("redcap") else "application/fhir+json")
        bodies[kind] = response.get_data(as_text=True)              # read now: the download streams
        assert LIKELY not in bodies[kind] and SPANISH not in bodies[kind]     # never a conversation id
    dictionary = list(csv.reader(io.StringIO(bodies["redcap-dictionary"])))
    records = list(csv.DictReader(io.StringIO(bodies["redcap"])))
    assert list(records[0]) == [row[0] for row in dictionary[1:]]
    assert [(r["reference"], r["language"], r["outcome"]) for r in records] == [(reference_of(app, SPANISH), "es", "4")]
    questionnaire = json.loads(bodies["fhir-questionnaire"])
    bundle = json.loads(bodies["fhir"])
    Questionnaire.model_validate(questionnaire)
    Bundle.model_validate(bundle)
    (entry,) = bundle["entry"]
    QuestionnaireResponse.model_validate(entry["resource"])
    assert entry["resource"]["identifier"]["value"] == reference_of(app, SPANISH)
    assert entry["resource"]["language"] == "es"
    for kind in ("redcap", "fhir"):
        assert ("carol", "export", kind, "language Spanish") in audit_of(app)
    for kind in ("redcap-dictionary", "fhir-questionnaire"):
        assert ("carol", "export", kind, "the criteria file") in audit_of(app)


def test_a_search_is_exported_but_its_words_are_not_audited(app, staff):
    response = staff.get("/staff/export?format=redcap&q=limitado")
    assert response.status_code == 200
    records = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["reference"] for r in records] == [reference_of(app, SPANISH)]
    (entry,) = [e for e in audit_of(app) if e[1] == "export"]
    assert "limitado" not in entry[3] and "search" in entry[3]


@pytest.mark.parametrize("kind", NEW_FORMATS)
def test_a_new_format_started_from_another_site_is_refused(app, staff, kind):
    response = staff.get(f"/staff/export?format={kind}", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert ("carol", "export_refused", None, "cross-site request") in audit_of(app)
    assert not [e for e in audit_of(app) if e[1] == "export"]


def test_the_downloads_need_a_login_and_a_known_format(app, staff):
    anonymous = app.test_client()
    for kind in NEW_FORMATS:
        assert anonymous.get(f"/staff/export?format={kind}").status_code == 302
    assert staff.get("/staff/export?format=redcap-records").status_code == 400


# -- times in the site's zone -------------------------------------------------------------------------

SUMMER = dt.datetime(2026, 7, 15, 6, 30, tzinfo=dt.timezone.utc)     # Berlin: 08:30 +02:00
WINTER = dt.datetime(2026, 1, 15, 6, 30, tzinfo=dt.timezone.utc)     # Berlin: 07:30 +01:00


def test_every_export_gives_times_in_the_sites_zone_with_its_offset(tmp_path):
    """The fictional trial's site is in Europe/Berlin: +02:00 in summer, +01:00 in winter."""
    app = csrf_app(tmp_path, CRITERIA=FICTIONAL)
    add_staff(app, "carol")
    for sender, moment in (("dst-summer-0000001", SUMMER), ("dst-winter-0000001", WINTER)):
        with time_machine.travel(moment, tick=False):
            Chat(app, sender).run(FICTIONAL_TO_RESULT)
    staff = app.test_client()
    assert login(staff).status_code == 302
    berlin = ZoneInfo("Europe/Berlin")

    rows = {r["conversation_id"]: r for r in csv.DictReader(io.StringIO(
        staff.get("/staff/export?format=csv").get_data(as_text=True)))}
    assert rows["dst-summer-0000001"]["started_at"] == "2026-07-15T08:30:00+02:00"
    assert rows["dst-winter-0000001"]["started_at"] == "2026-01-15T07:30:00+01:00"
    assert rows["dst-summer-0000001"]["last_activity"] == "2026-07-15T08:30:00+02:00"

    document = json.loads(staff.get("/staff/export?format=json").get_data(as_text=True))
    by_id = {c["id"]: c for c in document["conversations"]}
    summer, winter = by_id["dst-summer-0000001"], by_id["dst-winter-0000001"]
    assert (summer["started_at"], winter["started_at"]) == ("2026-07-15T08:30:00+02:00", "2026-01-15T07:30:00+01:00")
    assert {line["at"] for line in summer["transcript"]} == {"2026-07-15T08:30:00+02:00"}
    assert {line["at"] for line in winter["transcript"]} == {"2026-01-15T07:30:00+01:00"}
    exported = dt.datetime.fromisoformat(document["exported_at"])
    assert exported.utcoffset() == dt.datetime.now(berlin).utcoffset()

    records = {r["reference"]: r for r in csv.DictReader(io.StringIO(
        staff.get("/staff/export?format=redcap").get_data(as_text=True)))}
    assert records[reference_of(app, "dst-summer-0000001")]["started_at"] == "2026-07-15 08:30:00"
    assert records[reference_of(app, "dst-winter-0000001")]["started_at"] == "2026-01-15 07:30:00"

    bundle = json.loads(staff.get("/staff/export?format=fhir").get_data(as_text=True))
    authored = {e["resource"]["identifier"]["value"]: e["resource"]["authored"] for e in bundle["entry"]}
    assert authored[reference_of(app, "dst-summer-0000001")] == "2026-07-15T08:30:00+02:00"
    assert authored[reference_of(app, "dst-winter-0000001")] == "2026-01-15T07:30:00+01:00"


def test_the_command_and_the_page_offer_the_same_formats():
    from bot.staff.cli import EXPORT_FORMATS
    from bot.staff.export import FORMATS
    assert list(EXPORT_FORMATS) == list(FORMATS)
