"""The staff pages: login and logout, the list, a conversation, follow-up, the audit log, exports."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

from flask import (Response, abort, current_app, flash, redirect, render_template, request, session,
                   stream_with_context, url_for)
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from bot import db
from bot.engine import initial_slots
from bot.staff import accounts, twofactor, work
from bot.staff.blueprint import bp
from bot.staff.export import FORMAT_ERRORS, FORMATS, audit_detail, export_chunks
from bot.db.schema import as_utc, audit_log as audit, conversations, followups, now_utc
from bot.staff.queries import LANGUAGES, LANGUAGES_IN_ENGLISH, NO_OUTCOME, OUTCOMES, STATUSES, Filters, list_page
from bot.staff.transcript import criteria_rows, record, value_words
from bot.staff.work import QUEUE_OUTCOMES, QueueFilters, queue_page
from bot.store import PURGE_REASON

WRONG_LOGIN = "Wrong user name or password."


class LoginForm(FlaskForm):
    """The staff login form: username, password, csrf_token."""

    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=accounts.MAX_PASSWORD_LENGTH)])


class CodeForm(FlaskForm):
    """A code from the authenticator app (or a recovery code)."""

    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


# -- helpers -----------------------------------------------------------------------

def _store():
    return current_app.extensions["prescreen_store"]


def _trial():
    return current_app.extensions["prescreen_trial"]


def _address() -> str | None:
    return request.remote_addr


def _actor() -> str:
    return current_user.username if current_user.is_authenticated else "anonymous"


def _audit(action: str, target: str | None = None, detail: str | None = None, actor: str | None = None,
           conn=None) -> None:
    _store().add_audit(actor or _actor(), action, target, _address(), detail, conn=conn)


def _safe_next(target: str | None) -> str | None:
    """A same-site /staff/ path to go to after login, or None."""
    if not target:
        return None
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None   # backslashes and control characters (a CR/LF would split the Location header)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff/"):
        return None
    return target


@bp.app_template_filter("staff_time")
def staff_time(value: Any, seconds: bool = False) -> str:
    """A stored time in the site's time zone, e.g. 2026-11-25 08:10."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        moment = as_utc(value)
    else:
        return str(value)
    local = moment.astimezone(_trial().zone)
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


bp.add_app_template_filter(value_words, "staff_value")   # an answer value as staff read it


@bp.app_template_filter("staff_language")
def staff_language(code: str | None) -> str:
    """A conversation's language as the pages name it ("Español"), or its code if not a known one."""
    return LANGUAGES.get(code or "en", code or "en")


@bp.app_template_filter("staff_language_title")
def staff_language_title(code: str | None) -> str:
    """The language in English with its code, for a title ("Spanish (es)")."""
    code = code or "en"
    return f"{LANGUAGES_IN_ENGLISH.get(code, code)} ({code})"


def _progress(row: dict[str, Any]) -> tuple[str, str]:
    """(label, css class) for completed / in progress / abandoned, with the question."""
    if row["completed"]:
        return "Completed", "done"
    idle = dt.timedelta(minutes=float(current_app.config["STAFF_ABANDONED_AFTER_MINUTES"]))
    state = "Abandoned" if now_utc() - as_utc(row["last_activity"]) > idle else "In progress"
    where = f" at {row['current_question']}" if row["current_question"] else " before the questions"
    return state + where, state.lower().replace(" ", "-")


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"OUTCOMES": OUTCOMES, "STATUSES": STATUSES, "NO_OUTCOME": NO_OUTCOME, "LANGUAGES": LANGUAGES,
            "site_zone": _trial().model.site.time_zone,
            "current_user": current_user}


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    return render_template("staff/error.html", title="Form expired",
                           message="The form was out of date or incomplete (no valid CSRF token). "
                                   "Go back, reload the page and try again."), 400


@bp.errorhandler(403)
def _forbidden(error):
    return render_template("staff/error.html", title="Not allowed",
                           message="Your account may not open this page."), 403


@bp.errorhandler(404)
def _not_found(error):
    return render_template("staff/error.html", title="Not found",
                           message=getattr(error, "description", None) or "There is no such page."), 404


# -- login ---------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with user name and password; failures are counted and slowed down."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("staff.index"))
    form = LoginForm()
    status = 200
    error = None
    if form.validate_on_submit():
        database = _store().engine
        name = form.username.data.strip()
        wait = accounts.begin_attempt(database, name)   # counted before the password is checked
        if wait:
            minutes = math.ceil(wait / 60)
            error = (f"Too many failed log-ins. Try again in {wait} seconds." if wait < 60 else
                     f"Too many failed log-ins. Try again in {minutes} minutes.")
            _store().add_burst_audit(name[:64] or "?", "login_refused", name[:64], _address())
            status = 429
        else:
            user = accounts.verify(database, name, form.password.data)
            if user is None:
                _store().add_burst_audit(name[:64] or "?", "login_failed", name[:64], _address())
                error, status = WRONG_LOGIN, 401
            else:
                accounts.clear_failures(database, name)
                next_page = _safe_next(request.args.get("next"))
                if twofactor.enrolled(database, user.id):   # the password is right: now the code
                    session.clear()
                    session["pending_2fa"] = {"id": user.id, "name": user.username, "next": next_page,
                                              "at": now_utc().timestamp()}
                    return redirect(url_for("staff.second_factor"))
                return _complete_login(user, next_page)
    elif request.method == "POST":
        error, status = WRONG_LOGIN, 401
    return render_template("staff/login.html", form=form, error=error), status


def _complete_login(user, next_page: str | None):
    """Log the user in (a session held on the server); an account that must have a second factor
    and has none is sent to enrol before anything else."""
    database = _store().engine
    session.clear()
    login_user(user)
    session["staff_session"] = accounts.open_session(database, user)
    session.permanent = True
    if (user.is_admin or current_app.config.get("REQUIRE_2FA")) and not twofactor.enrolled(database, user.id):
        session["must_enrol"] = True
    _audit("login", target=user.username, actor=user.username)
    return redirect(next_page or url_for("staff.index"))


PENDING_SECONDS = 300   # the code must follow the password within this time


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    """The second step of a log-in: a code from the authenticator app, or a recovery code."""
    pending = session.get("pending_2fa")
    if not isinstance(pending, dict) or now_utc().timestamp() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop("pending_2fa", None)
        return redirect(url_for("staff.login"))
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        database = _store().engine
        wait = accounts.begin_attempt(database, pending["name"])   # codes count like passwords
        user = accounts.load_user_by_id(database, int(pending["id"]))
        if wait:
            error, status = f"Too many failed log-ins. Try again in {wait} seconds.", 429
        elif user is not None and twofactor.check(database, user.id, form.code.data, current_app.secret_key):
            accounts.clear_failures(database, pending["name"])
            return _complete_login(user, pending.get("next"))
        else:
            _store().add_burst_audit(pending["name"], "login_failed", pending["name"], _address())
            error, status = "That code is not right. Try the newest code in your app, or a recovery code.", 401
    elif request.method == "POST":
        error, status = "Please type the code.", 400
    return render_template("staff/code.html", form=form, error=error), status


@bp.route("/enrol", methods=["GET", "POST"])
def enrol():
    """Set up two-factor sign-in: scan the QR code, type the code the app shows, keep the
    recovery codes (shown once)."""
    database = _store().engine
    secret = session.get("enrol_secret") or twofactor.new_secret()
    session["enrol_secret"] = secret
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        recovery = twofactor.enrol(database, current_user.id, secret, form.code.data, current_app.secret_key)
        if recovery is not None:
            session.pop("enrol_secret", None)
            session.pop("must_enrol", None)
            _audit("enrol_2fa", target=current_user.username)
            return render_template("staff/recovery.html", codes=recovery)
        error, status = "That code is not right. Check the time on your phone, and type the newest code.", 400
    return render_template("staff/enrol.html", form=form, error=error, secret=secret,
                           qr=Markup(twofactor.qr_svg(secret, current_user.username)),
                           required=bool(session.get("must_enrol"))), status


@bp.post("/logout")
def logout():
    """Log out (a POST with the CSRF token)."""
    _audit("logout", target=current_user.username)
    accounts.end_session(_store().engine, session.get("staff_session"))
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("staff.login"))


# -- the list ------------------------------------------------------------------------

def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@bp.get("/")
def index():
    """The work queue ("To follow up"): the conversations that need a person, oldest first."""
    filters, problems = QueueFilters.from_args(request.args)
    trial = _trial()
    with _store().engine.connect() as conn:
        page = queue_page(conn, filters, current_user.username, trial.today(), trial.zone, _page_number(),
                          int(current_app.config["STAFF_PAGE_SIZE"]))
    for row in page.rows:
        row["href"] = url_for("staff.conversation", conversation_id=row["id"], back=request.full_path)
    return render_template("staff/queue.html", page=page, filters=filters, args=filters.as_args(),
                           problems=problems, staff=_staff_names(), today=trial.today(),
                           QUEUE_OUTCOMES=QUEUE_OUTCOMES), 400 if problems else 200


@bp.get("/conversations")
def conversations_list():
    """Every conversation, newest first, with filters, search, counts and pages."""
    filters, problems = _list_filters()
    with _store().engine.connect() as conn:
        page = list_page(conn, filters, _trial().zone, _page_number(), int(current_app.config["STAFF_PAGE_SIZE"]))
    # one url_for for the page, not one per row (ids are URL-safe: A-Z a-z 0-9 _ . : -)
    link = url_for("staff.conversation", conversation_id="ID", back=request.full_path)
    prefix, suffix = link.split("/ID?", 1)
    for row in page.rows:
        row["progress"], row["progress_class"] = _progress(row)
        row["href"] = f"{prefix}/{quote(row['id'], safe='')}?{suffix}"
    args = filters.as_args()
    return render_template("staff/list.html", page=page, filters=filters, args=args, problems=problems,
                           questions=[(q.id, q.text) for q in _trial().for_language("en").questions],
                           export_csv=url_for("staff.export", format="csv", **args),
                           export_json=url_for("staff.export", format="json", **args)), 400 if problems else 200


def _list_filters() -> tuple[Filters, list[str]]:
    """The list's (and its exports') filters from the request, with the site's "abandoned" idle time."""
    filters, problems = Filters.from_args(request.args)
    return replace(filters, abandoned_after_minutes=float(current_app.config["STAFF_ABANDONED_AFTER_MINUTES"])), problems


def _staff_names() -> list[str]:
    """The active staff users' names (the owners a conversation can have)."""
    return [u["username"] for u in accounts.list_users(_store().engine) if not u["disabled"]]


# -- one conversation -----------------------------------------------------------------

def _history(conn, conversation_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(followups).where(followups.c.conversation_id == conversation_id)
                                          .order_by(followups.c.id)).mappings()]


def _record(conversation_id: str):
    """The conversation's summary row and record, or a 404 that says why it is gone."""
    store = _store()
    summary = store.conversation(conversation_id)
    if summary is None:
        gone = store.tombstones(conversation_id) if len(conversation_id) <= 128 else []
        if not gone:
            abort(404, description="There is no conversation with this id.")
        purged = gone[-1]["reason"].startswith(PURGE_REASON)
        abort(404, description="This conversation was deleted by the retention purge." if purged
              else "This conversation was deleted at the patient's request.")
    dialogue = current_app.extensions["prescreen"].dialogue_engine.dialogue
    return summary, record(_trial(), store.events(conversation_id), _trial().zone, initial=initial_slots(dialogue))


def _work_context(conn, conversation_id: str, summary: dict[str, Any], rec) -> dict[str, Any]:
    """What the conversation page and the visit summary show of the work on it."""
    trial = _trial()
    fixes = work.corrections_of(conn, conversation_id)
    answers = work.with_corrections(rec.answers, fixes)
    result = summary.get("result")
    return {"answers": answers, "corrections": fixes, "history": _history(conn, conversation_id),
            "attempts": work.attempts_of(conn, conversation_id),
            "checks": work.check_list(trial, result, answers, work.ticks_of(conn, conversation_id)),
            "today_view": work.todays_view(trial, rec, result, fixes), "result": result,
            "criteria": criteria_rows(trial, result)}


@bp.get("/conversations/<conversation_id>")
def conversation(conversation_id: str):
    """Transcript, answers, the stored result, contact details and the follow-up work."""
    summary, rec = _record(conversation_id)
    with db.write(_store().engine) as conn:
        context = _work_context(conn, conversation_id, summary, rec)
        _audit("view_conversation", target=conversation_id, conn=conn)
    summary["progress"], summary["progress_class"] = _progress(summary)
    result = context["result"]
    return render_template("staff/conversation.html", c=summary, rec=rec, **context,
                           criteria_version=_trial().model.version, staff=_staff_names(),
                           specs=_trial().for_language("en").answers, work=work,
                           now_local=now_utc().astimezone(_trial().zone).strftime("%Y-%m-%dT%H:%M"),
                           result_json=json.dumps(result, indent=2, ensure_ascii=False) if result else None,
                           back=_safe_next(request.args.get("back")) or url_for("staff.index"))


@bp.get("/conversations/<conversation_id>/visit-summary")
def visit_summary(conversation_id: str):
    """One printable page for the screening visit: contact, answers with the patient's words, the
    result, what to check and the follow-up so far."""
    summary, rec = _record(conversation_id)
    with db.write(_store().engine) as conn:
        context = _work_context(conn, conversation_id, summary, rec)
        _audit("view_visit_summary", target=conversation_id, conn=conn)
    labels = {a: spec.label for a, spec in _trial().for_language("en").answers.items()}
    return render_template("staff/visit_summary.html", c=summary, rec=rec, **context, work=work,
                           trial=_trial().model, printed=now_utc(), specs_label=lambda a: labels.get(a, a))


def _back_to(conversation_id: str, anchor: str):
    """The conversation page again, keeping where its "Back" link leads (the queue or a filtered list)."""
    back = _safe_next(request.form.get("back"))
    return redirect(url_for("staff.conversation", conversation_id=conversation_id, **({"back": back} if back else {}))
                    + anchor)


def _posted(conversation_id: str, anchor: str, save, done: str):
    """Run a work form's `save(conn)` (after its CSRF token), in one transaction with its audit entry;
    a WorkError is shown on the page and nothing is saved."""
    if not PostForm().validate_on_submit():
        flash("The form was out of date (no valid CSRF token). Reload the page and try again.", "error")
        return _back_to(conversation_id, anchor)
    try:
        with db.write(_store().engine) as conn:
            if conn.execute(select(conversations.c.id).where(conversations.c.id == conversation_id)).first() is None:
                abort(404, description="There is no conversation with this id.")
            message = save(conn)
    except work.WorkError as exc:
        flash(f"Not saved: {exc}", "error")
        return _back_to(conversation_id, anchor)
    flash(message or done, "info")
    return _back_to(conversation_id, anchor)


class PostForm(FlaskForm):
    """Only the CSRF token (the work forms read their fields themselves)."""


@bp.post("/conversations/<conversation_id>/follow-up")
def follow_up(conversation_id: str):
    """Record a follow-up change (status, owner, next-action date, visit date, note); nothing earlier
    is overwritten: each change is a row of the history."""
    form = request.form

    def save(conn):
        wanted = work.FollowUp(status=(form.get("status") or "").strip(), owner=(form.get("owner") or "").strip(),
                               next_action_on=work.optional_date(form.get("next_action_on"), "Next action date"),
                               visit_on=work.optional_date(form.get("visit_on"), "Screening visit date"),
                               note=work.note_of(form.get("note")))
        changed = work.save_follow_up(conn, conversation_id, wanted, current_user.username, _staff_names())
        if not changed:
            return "Nothing to save: nothing was changed and there is no note."
        _audit("follow_up", target=conversation_id, detail="changed: " + ", ".join(changed), conn=conn)
        return None
    return _posted(conversation_id, "#follow-up", save, "Follow-up saved.")


@bp.post("/conversations/<conversation_id>/attempts")
def contact_attempt(conversation_id: str):
    """Record a try to reach the patient: when (site time), how, with what result, a note."""
    form = request.form

    def save(conn):
        when = (form.get("at") or "").strip()
        try:
            at = dt.datetime.fromisoformat(when).replace(tzinfo=_trial().zone) if when else now_utc()
        except ValueError:
            raise work.WorkError(f"When {when!r} is not a date and time.") from None
        work.add_attempt(conn, conversation_id, at, (form.get("method") or "").strip(),
                         (form.get("result") or "").strip(), work.note_of(form.get("note")), current_user.username)
        _audit("contact_attempt", target=conversation_id, detail="contact attempt recorded", conn=conn)
    return _posted(conversation_id, "#attempts", save, "Contact attempt saved.")


@bp.post("/conversations/<conversation_id>/check")
def check_item(conversation_id: str):
    """Tick (or untick) one "to check" item of the result, with a note."""
    form = request.form

    def save(conn):
        key = (form.get("item") or "").strip()
        summary = _store().conversation(conversation_id) or {}
        items = {work.item_key(t): t for t in (summary.get("result") or {}).get("to_check") or []}
        if key not in items:
            raise work.WorkError("That item is no longer in the result's list.")
        done = form.get("done") == "yes"
        work.tick(conn, conversation_id, key, items[key], done, work.note_of(form.get("note")),
                  current_user.username)
        _audit("check_item", target=conversation_id, detail="item ticked" if done else "item unticked", conn=conn)
        return "Item ticked." if done else "Item marked as not checked."
    return _posted(conversation_id, "#to-check", save, "Saved.")


@bp.post("/conversations/<conversation_id>/correct")
def correct_answer(conversation_id: str):
    """Correct one answer: the patient's value is kept, the result is re-evaluated as of the
    conversation's date."""
    form = request.form
    answer_id = (form.get("answer") or "").strip()[:64]
    _, rec = _record(conversation_id)

    def save(conn):
        value = work.parse_value(_trial().for_language("en"), answer_id, form)
        before, after = work.correct(conn, _trial(), conversation_id, rec, answer_id, value,
                                     form.get("reason") or "", current_user.username)
        _audit("correct_answer", target=conversation_id, detail=f"answer {answer_id}; result re-evaluated",
               conn=conn)
        if before != after:
            return (f"Answer corrected. The result changed from {OUTCOMES.get(before, before)} to "
                    f"{OUTCOMES.get(after, after)}.")
        return "Answer corrected. The result's outcome stays the same."
    return _posted(conversation_id, "#answers", save, "Answer corrected.")


# -- audit log ------------------------------------------------------------------------

@bp.get("/audit")
def audit_log():
    """Every login, view, change, export and deletion (admins only)."""
    if not current_user.is_admin:
        abort(403)
    per_page = 100
    action = (request.args.get("action") or "").strip()[:64]
    actor = (request.args.get("actor") or "").strip()[:128]
    condition = []
    if action:
        condition.append(audit.c.action == action)
    if actor:
        condition.append(audit.c.actor == actor)
    with _store().engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(audit).where(*condition)).scalar_one()
        pages = max(1, math.ceil(total / per_page))
        number = min(_page_number(), pages)
        rows = conn.execute(select(audit).where(*condition).order_by(audit.c.id.desc())
                            .limit(per_page).offset((number - 1) * per_page)).mappings().all()
        actions = [r[0] for r in conn.execute(select(audit.c.action).distinct().order_by(audit.c.action))]
    args = {k: v for k, v in {"action": action, "actor": actor}.items() if v}
    return render_template("staff/audit.html", rows=rows, number=number, pages=pages, total=total, args=args,
                           actions=actions, action=action, actor=actor)


# -- export ---------------------------------------------------------------------------

@bp.get("/export")
def export():
    """The filtered list as CSV, JSON, REDCap records or a FHIR Bundle, or the REDCap data dictionary
    or FHIR Questionnaire of the criteria file (a download). Refused when a browser says the request
    comes from another site (Sec-Fetch-Site): a link elsewhere must not start a download of patient
    data. Audited with the filters, never the words searched for."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        _audit("export_refused", detail="cross-site request")
        abort(403)
    kind = request.args.get("format", "csv")
    if kind not in FORMATS:
        abort(400)
    filters, problems = _list_filters()
    if problems:
        abort(400)
    trial = _trial()
    store = _store()
    dialogue = current_app.extensions["prescreen"].dialogue_engine.dialogue
    try:
        chunks = export_chunks(kind, store.engine, trial, filters, dialogue)
    except FORMAT_ERRORS as exc:
        return Response(f"{exc}\n", status=500, mimetype="text/plain")
    form = FORMATS[kind]
    _audit("export", target=kind, detail=audit_detail(filters) if form.of_conversations else "the criteria file")
    stamp = now_utc().strftime("%Y%m%d-%H%M%S")
    response = Response(stream_with_context(chunks), mimetype=form.mimetype)
    name = "prescreen" if kind in ("csv", "json") else f"prescreen-{kind}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{form.suffix}"'
    response.headers["Cache-Control"] = "no-store"
    return response
