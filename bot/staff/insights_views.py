"""The insights page (`/staff/insights`) and its figures as CSV (`/staff/insights.csv`), on the staff
blueprint (so behind its login, like every staff page). The figures: bot/staff/insights.py."""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Response, abort, current_app, render_template, request, url_for
from flask_login import current_user

from bot.db.schema import now_utc
from bot.staff import insights
from bot.staff.blueprint import bp
from bot.staff.export import neutralise


def _store():
    return current_app.extensions["prescreen_store"]


def _trial():
    return current_app.extensions["prescreen_trial"]


def _audit(action: str, target: str | None = None, detail: str | None = None) -> None:
    _store().add_audit(current_user.username, action, target, request.remote_addr, detail)


def _period():
    return insights.Period.from_args(request.args, _trial().today())


@bp.get("/insights")
def insights_page():
    """The recruitment funnel, conversations per week, where people stop, the criteria that rule
    people out or send them to review, and the median time to complete, for a range of dates."""
    trial = _trial()
    today = trial.today()
    period, problems = _period()
    presets = {label: url_for("staff.insights_page", **insights.Period(
                   today - dt.timedelta(days=n - 1), today, period.language).as_args())
               for label, n in (("Last 30 days", 30), ("Last 90 days", 90), ("Last 365 days", 365))}
    if problems:
        return render_template("staff/insights.html", problems=problems, data=None, period=period,
                               args=request.args, presets=presets, ins=insights), 400
    with _store().engine.connect() as conn:
        data = insights.compute(conn, trial, period)
    _audit("view_insights", detail=period.describe())
    return render_template("staff/insights.html", problems=[], data=data, period=period, args=period.as_args(),
                           presets=presets, ins=insights,
                           csv_url=url_for("staff.insights_csv", **period.as_args()))


@bp.get("/insights.csv")
def insights_csv():
    """The page's figures as CSV (a download; figure, key, label, value, percent). Refused when a
    browser says the request comes from another site (Sec-Fetch-Site), like the other exports."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        _audit("export_refused", target="insights", detail="cross-site request")
        abort(403)
    period, problems = _period()
    if problems:
        return Response(" ".join(problems) + "\n", status=400, mimetype="text/plain")
    with _store().engine.connect() as conn:
        data = insights.compute(conn, _trial(), period)
    _audit("export", target="insights", detail=period.describe())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["figure", "key", "label", "value", "percent"])
    for row in insights.csv_rows(data):
        writer.writerow([neutralise(cell) for cell in row])
    response = Response(buffer.getvalue(), mimetype="text/csv; charset=utf-8")
    stamp = now_utc().strftime("%Y%m%d-%H%M%S")
    response.headers["Content-Disposition"] = (f'attachment; filename="prescreen-insights-{period.date_from}'
                                               f'-{period.date_to}-{stamp}.csv"')
    response.headers["Cache-Control"] = "no-store"
    return response
