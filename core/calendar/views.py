"""Admin pages of the holiday table: the years, a year's month grid, setting a day, publishing a year."""

from __future__ import annotations

import calendar as stdlib_calendar
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core.auth.decorators import permission
from core.calendar import load_calendar, operations, queries, today_in_shanghai
from core.calendar.models import DAY_KIND_LABELS, SOURCE_LABELS, DayKind
from core.calendar.schemas import PublishYearArgs, SetDayArgs
from core.web import current_actor, submit

bp = Blueprint("calendar", __name__, url_prefix="/admin/calendar", template_folder="templates",
               static_folder="static", static_url_path="/static")

KIND_OPTIONS = [("holiday", "节假日（放假）"), ("workday", "调休上班（周末上班）"), ("normal", "恢复常规（按周末规则）")]
WEEKDAYS = "一二三四五六日"
MONTHS = "一二三四五六七八九十"


def _year_arg(value: str | None, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        year = int(value)
    except ValueError:
        abort(404)
    if not operations.MIN_YEAR <= year <= operations.MAX_YEAR:
        abort(404)
    return year


@bp.route("/")
@permission("calendar.manage")
def index():
    today = today_in_shanghai()
    rows = {row.year: row for row in queries.list_years()}
    counts = queries.day_counts()
    years = sorted(set(rows) | {today.year, today.year + 1}, reverse=True)
    items = [{"year": y, "row": rows.get(y), "holidays": counts.get(y, (0, 0))[0],
              "workdays": counts.get(y, (0, 0))[1]} for y in years]
    next_row = rows.get(today.year + 1)
    return render_template("calendar/index.html", items=items, source_labels=SOURCE_LABELS, today=today,
                           next_published=bool(next_row and next_row.published))


def _month_grid(year: int, cal):
    """Twelve months of weeks (Monday first); each cell a DayInfo or None."""
    weeks_of = stdlib_calendar.Calendar(firstweekday=0)
    months = []
    for month in range(1, 13):
        weeks = [[cal.day_info(d) if d.month == month else None for d in week]
                 for week in weeks_of.monthdatescalendar(year, month)]
        months.append({"month": month, "label": _month_label(month), "weeks": weeks})
    return months


def _month_label(month: int) -> str:
    if month <= 10:
        return f"{MONTHS[month - 1]}月"
    return f"十{MONTHS[month - 11]}月"


@bp.route("/year")
@permission("calendar.manage")
def year():
    today = today_in_shanghai()
    y = _year_arg(request.args.get("y"), today.year)
    cal = load_calendar()
    row = queries.get_year(y)
    drafts = [] if cal.is_published(y) else queries.days_in_year(y)
    entered = queries.days_in_year(y) if cal.is_published(y) else drafts
    return render_template("calendar/year.html", y=y, row=row, published=cal.is_published(y),
                           months=_month_grid(y, cal), weekdays=WEEKDAYS, drafts=drafts, entered=entered,
                           kind_labels=DAY_KIND_LABELS, today=today, min_year=operations.MIN_YEAR,
                           max_year=operations.MAX_YEAR)


def _day_context(form_day: str | None) -> dict:
    """The current state of the day named in the form (if it is a date) for the page's side note."""
    try:
        day = date.fromisoformat(form_day) if form_day else None
    except ValueError:
        day = None
    if day is None or not operations.MIN_YEAR <= day.year <= operations.MAX_YEAR:
        return {"info": None, "row": None, "kind_options": KIND_OPTIONS}
    return {"info": load_calendar().day_info(day), "row": queries.get_day(day), "kind_options": KIND_OPTIONS}


@bp.route("/day", methods=["GET", "POST"])
@permission("calendar.manage")
def set_day():
    actor = current_actor()
    if request.method == "GET":
        raw = request.args.get("date", "")
        ctx = _day_context(raw)
        form = {"day": raw if ctx["info"] else ""}
        if ctx["row"] is not None:
            form.update(kind=ctx["row"].kind.value, name=ctx["row"].name)
        return render_template("calendar/day_form.html", form=form, errors={}, **ctx)

    def perform(args):
        day = args["day"]
        result = operations.set_day(day, args["kind"], actor=actor, name=args.get("name"))
        if args["kind"] == "normal":
            flash(f"{day.isoformat()} 已恢复为常规日（按周末规则）", "success")
        else:
            flash(f"{day.isoformat()} 已设为{DAY_KIND_LABELS[DayKind(args['kind'])]}：{result.name}", "success")
        return redirect(url_for("calendar.year", y=day.year))

    return submit(SetDayArgs(), perform, "calendar/day_form.html",
                  context_fn=lambda: _day_context(request.form.get("day", "").strip()))


@bp.route("/publish", methods=["GET", "POST"])
@permission("calendar.manage")
def publish():
    actor = current_actor()
    if request.method == "GET":
        today = today_in_shanghai()
        y = _year_arg(request.args.get("y"), today.year + 1)
        return render_template("calendar/publish.html", form={"year": str(y)}, errors={}, **_publish_context(y))

    def perform(args):
        row = operations.publish_year(args["year"], actor=actor)
        flash(f"{row.year} 年节假日安排已发布，涉及 {row.year} 年的期限已按正式安排重新计算", "success")
        return redirect(url_for("calendar.year", y=row.year))

    def context_fn():
        try:
            y = int(request.form.get("year", ""))
        except ValueError:
            y = None
        ok = y is not None and operations.MIN_YEAR <= y <= operations.MAX_YEAR
        return _publish_context(y if ok else None)

    return submit(PublishYearArgs(), perform, "calendar/publish.html", context_fn=context_fn)


def _publish_context(y: int | None) -> dict:
    if y is None:
        return {"y": None, "row": None, "entered": [], "kind_labels": DAY_KIND_LABELS}
    return {"y": y, "row": queries.get_year(y), "entered": queries.days_in_year(y), "kind_labels": DAY_KIND_LABELS}
