"""`prescreen users ...` and `prescreen export ...` (click.testing.CliRunner on bot.cli.main)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.security import check_password_hash

from bot.cli import main
from test_staff_helpers import (FICTIONAL, ROOT, REAL_ABANDONED, REAL_LIKELY, REAL_TOO_YOUNG, Chat,
                                make_app, opt_in)


@pytest.fixture()
def db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    monkeypatch.setenv("PRESCREEN_DATABASE_URL", url)
    monkeypatch.delenv("PRESCREEN_CRITERIA", raising=False)
    return url


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def users_table(url):
    from bot.db.schema import staff_users as users
    from bot.store import Store
    with Store(url).engine.connect() as conn:
        return {r["username"]: dict(r) for r in conn.execute(select(users)).mappings()}


def audit_actions(url):
    from bot.store import Store
    return [(e["action"], e["target"]) for e in Store(url).audit_entries()]


def test_users_add_reads_the_first_line_of_stdin_and_stores_only_a_scrypt_hash(db):
    result = run("users", "add", "alice", "--admin", input="a very long password\nsecond line\n")
    assert result.exit_code == 0, result.output
    row = users_table(db)["alice"]
    assert row["is_admin"] is True and row["disabled"] is False
    assert row["password_hash"].startswith("scrypt:")
    assert "a very long password" not in row["password_hash"]
    assert check_password_hash(row["password_hash"], "a very long password")
    assert ("user_add", "alice") in audit_actions(db)


def test_users_add_refuses_a_short_password(db):
    result = run("users", "add", "bob", input="short pw 11\n")   # 11 characters
    assert result.exit_code == 1
    assert "at least 12" in result.output
    assert "bob" not in users_table(db)


def test_users_add_refuses_a_duplicate_in_any_case(db):
    assert run("users", "add", "alice", input="a very long password\n").exit_code == 0
    result = run("users", "add", "Alice", input="another long password\n")
    assert result.exit_code == 1 and "already exists" in result.output
    assert list(users_table(db)) == ["alice"]


def test_users_add_refuses_a_bad_name(db):
    result = run("users", "add", "no spaces allowed", input="a very long password\n")
    assert result.exit_code == 1 and "user name" in result.output


def test_users_list_disable_and_reset_password(db):
    run("users", "add", "alice", "--admin", input="a very long password\n")
    run("users", "add", "bob", input="bob's long password\n")
    listed = run("users", "list")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["alice", "admin", "active"]
    assert lines[1].split()[:3] == ["bob", "staff", "active"]
    assert "scrypt" not in listed.output

    assert run("users", "disable", "bob").exit_code == 0
    assert run("users", "list").stdout.splitlines()[1].split()[:3] == ["bob", "staff", "disabled"]
    assert run("users", "disable", "nobody").exit_code == 1

    before = users_table(db)["alice"]
    assert run("users", "reset-password", "alice", input="too short\n").exit_code == 1
    assert run("users", "reset-password", "alice", input="a brand new password\n").exit_code == 0
    after = users_table(db)["alice"]
    assert check_password_hash(after["password_hash"], "a brand new password")
    assert after["session_version"] == before["session_version"] + 1
    assert run("users", "reset-password", "nobody", input="a brand new password\n").exit_code == 1
    actions = audit_actions(db)
    assert ("user_disable", "bob") in actions and ("user_reset_password", "alice") in actions


@pytest.fixture()
def data(tmp_path, db, monkeypatch):
    """Three real-trial conversations and one fictional-trial contact request, same database."""
    app = make_app(tmp_path)
    Chat(app, "likely").run(REAL_LIKELY)
    Chat(app, "young").run(REAL_TOO_YOUNG)
    Chat(app, "gone").run(REAL_ABANDONED)
    fictional = make_app(tmp_path, CRITERIA=FICTIONAL)
    opt_in(fictional, "contact", '=HYPERLINK("http://x","y")')
    # create_app points PRESCREEN_CRITERIA at its trial; the export reads the real one
    monkeypatch.setenv("PRESCREEN_CRITERIA", str(ROOT / "criteria.yaml"))
    return db


def test_export_csv_to_stdout_one_row_per_conversation(data):
    result = run("export", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    by_id = {r["conversation_id"]: r for r in rows}
    assert set(by_id) == {"likely", "young", "gone", "contact"}
    from actions.trial import load_trial
    answer_ids = list(load_trial(ROOT / "criteria.yaml").answers)
    assert list(rows[0])[-len(answer_ids):] == answer_ids
    assert by_id["likely"]["outcome"] == "likely_eligible" and by_id["likely"]["age"] == "54"
    assert by_id["likely"]["ssc_subtype"] == "diffuse" and by_id["likely"]["hiv"] == "false"
    assert by_id["young"]["outcome"] == "not_eligible" and by_id["young"]["age"] == "17"
    assert by_id["young"]["hiv"] == ""                                  # not asked
    assert by_id["gone"]["completed"] == "false" and by_id["gone"]["current_question"] == "refractory"
    assert by_id["gone"]["status"] == "new" and by_id["gone"]["outcome"] == ""
    # the formula the patient typed as their name is text, not a formula
    assert by_id["contact"]["contact_name"] == '\'=HYPERLINK("http://x","y")'
    assert by_id["contact"]["contact_requested"] == "true"
    assert ("export", "csv") in audit_actions(data)


def test_export_filters_and_output_file(data, tmp_path):
    out = tmp_path / "out.csv"
    result = run("export", "--format", "csv", "--outcome", "not_eligible", "--output", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [r["conversation_id"] for r in rows] == ["young"]
    assert [r["conversation_id"] for r in csv.DictReader(io.StringIO(
        run("export", "--format", "csv", "--status", "contacted").stdout))] == []
    assert len(list(csv.DictReader(io.StringIO(run("export", "--format", "csv", "--since", "2000-01-01").stdout)))) == 4
    assert list(csv.DictReader(io.StringIO(run("export", "--format", "csv", "--since", "2999-01-01").stdout))) == []


def test_export_json_prints_only_json(data):
    result = run("export", "--format", "json", "--outcome", "likely_eligible")
    assert result.exit_code == 0
    document = json.loads(result.stdout)          # nothing but JSON on standard output
    assert document["count"] == 2 and document["filters"] == {"outcome": "likely_eligible"}
    by_id = {c["id"]: c for c in document["conversations"]}
    likely = by_id["likely"]
    assert likely["result"]["outcome"] == "likely_eligible"
    assert likely["answers"]["age"] == {"value": 54, "words": "54", "status": "confirmed", "question": "age",
                                        "checked_back": False, "obtained": "typed_unconfirmed", "changes": []}
    said = [line["text"] for line in likely["transcript"] if line["from"] == "patient"]
    assert said[:4] == ["hi", "Start", "54", "Yes, the diffuse type"]    # taps shown as the titles
    assert by_id["contact"]["contact"] == {"name": '=HYPERLINK("http://x","y")', "details": "ann@example.org",
                                           "link": "mailto:ann@example.org", "note": ""}


def test_export_json_says_which_answers_the_patient_confirmed(data):
    document = json.loads(run("export", "--format", "json", "--outcome", "not_eligible").stdout)
    young = {c["id"]: c for c in document["conversations"]}["young"]
    assert young["answers"]["age"]["value"] == 17 and young["answers"]["age"]["checked_back"] is True


@pytest.mark.parametrize("args", [["--outcome", "maybe"], ["--status", "lost"], ["--since", "last week"]])
def test_export_refuses_bad_filters(db, args):
    result = run("export", "--format", "csv", *args)
    assert result.exit_code == 2 and result.stdout == ""


def test_export_needs_a_format(db):
    assert run("export").exit_code == 2


@pytest.mark.parametrize("password, why", [
    ("passwordpassword", "repeated"), ("            ", "repeated"), ("aaaaaaaaaaaa", "repeated"),
    ("abcabcabcabc", "repeated"), ("carol-the-coordinator", "user name"), ("CAROL-THE-COORDINATOR2026!", "user name"),
    ("password1234", "common"), ("Password2024!", "common"), ("qwertyuiopas", None), ("short", "at least 12"),
])
def test_weak_passwords_are_refused(tmp_path, password, why):
    """Issue 14, item 3: at least 12 characters, not the user name, not one character or a short run
    repeated, not a common password."""
    from bot.staff.accounts import AccountError, check_password
    if why is None:
        assert check_password(password, "carol-the-coordinator") == password
        return
    with pytest.raises(AccountError) as error:
        check_password(password, "carol-the-coordinator")
    assert {"repeated": "repeated", "user name": "user name", "common": "most common",
            "at least 12": "at least 12"}[why] in str(error.value)
