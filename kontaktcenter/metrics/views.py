"""The tillgänglighet pages under /reports: dashboard, drill-down, exports and the special reports."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from ..auth.decorators import roles_required
from ..database import db
from ..directory.models import Department, Service
from ..extensions import current_locale
from ..tickets.access import can_read
from ..worktime.calendar import STOCKHOLM
from . import charts, development, export_jobs
from . import switchboard as switchboard_figures
from .comparison import compare
from .coordinator import coordinator_view
from .costs import CostConfigError, cost_allocation
from .development import development_report
from .drilldown import DRILLABLE, drill
from .engine import Filters, ReportError, parse_by, records, volume_by_weekday_hour
from .equity import COMPARED as EQUITY_COMPARED
from .equity import DIMENSIONS as EQUITY_DIMENSIONS
from .equity import chosen_figures, equity
from .exports import FIGURE_KINDS, FILE_ENDINGS, FORMATS, MEDIA_TYPES, PEOPLE_CSV, export, iso_as_of, names_for
from .forms import CostForm, FilterForm, StaffingForm, default_dates
from .labels import (
    FIGURE_LABELS,
    LOCATION_KIND_LABELS,
    NEED_LABELS,
    REASON_CATEGORY_LABELS,
    REPORT_PAGES,
    format_kronor,
)
from .local_service import local_service
from .models import ReportExport
from .periods import is_partial, period_label
from .quarter import QuarterError, current_quarter, quarter_report
from .report import report
from .staffing import arrival_pattern, history_aht, staffing_plan
from .targets import report_targets

bp = Blueprint("metrics", __name__)

REPORT_ROLES = ("manager", "coordinator", "admin")
KEY_FIGURES = (
    "answer_rate",
    "service_level",
    "asa_seconds",
    "response_within_1wd_rate",
    "walkin_wait_mean_seconds",
    "fcr_rate",
    "kc_resolution_rate",
    "escalation_rate",
)
TABLE_FIGURES = (
    "phone_offered",
    "answer_rate",
    "service_level",
    "asa_seconds",
    "written_received",
    "response_within_1wd_rate",
    "walkin_visits",
    "tickets",
    "fcr_rate",
)


def weekday_names() -> list[str]:
    """Monday..Sunday, abbreviated, in the reader's language (CLDR via Babel)."""
    from babel.dates import get_day_names

    names = get_day_names("abbreviated", locale=current_locale())
    return [str(names[i]) for i in range(7)]


def _calendar():
    from ..worktime.calendar import current_calendar

    return current_calendar()


def _short() -> float:
    return current_app.config["SHORT_ABANDON_SECONDS"]


def _filter_form(own_department: bool = False) -> tuple[FilterForm, bool]:
    """The filters from the query string (defaults: the last 30 days); valid or not."""
    return _filter_form_from(request.args, own_department)


def _page(template: str, form: FilterForm, ok: bool, **context):
    context.setdefault("as_of", form.as_of.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M"))
    return render_template(
        template,
        form=form,
        filter_args=_filter_args(form),
        names=form.names(current_locale()),
        print_view=_print_view(),
        printed_at=datetime.now(STOCKHOLM).strftime("%Y-%m-%d %H:%M"),
        **context,
    ), (200 if ok else 400)


def _print_view() -> bool:
    """?print=1: the page laid out for A4 (no navigation or forms; title, period, as-of, sources)."""
    return request.args.get("print") == "1"


@bp.app_template_global()
def report_page_url(endpoint: str, filter_args: dict[str, str]) -> str:
    """A report page with the filters shown now. The quarter report takes only a
    department, and a coordinator's only their own (another's is a 404 for them)."""
    if endpoint != "metrics.quarter_page":
        return url_for(endpoint, **filter_args)
    department = filter_args.get("department")
    if current_user.role == "coordinator" and current_user.department:
        department = current_user.department.code
    return url_for(endpoint, **({"department": department} if department else {}))


@bp.app_template_global()
def print_url(on: bool) -> str:
    """This page with the same filters, as its print view or back from it."""
    args = request.args.to_dict(flat=False)
    args.pop("print", None)
    if on:
        args["print"] = ["1"]
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def _filter_args(form: FilterForm) -> dict[str, str]:
    names = ("start", "end", "department", "service", "channel", "location", "language", "period")
    args = {n: form[n].raw_data[0] for n in names if form[n].raw_data and form[n].raw_data[0]}
    if form.department.raw_data and "department" not in args:
        # "Alla" chosen on purpose: kept in the links, or a coordinator's default would come back.
        args["department"] = ""
    return args


@bp.get("/reports")
@roles_required(*REPORT_ROLES)
def reports():
    form, ok = _filter_form(own_department=True)
    if not ok:
        return _page("metrics/reports.html", form, ok, total=None)
    calendar = _calendar()
    (total,) = records(report(db.session, form.query(), calendar, _short()))
    period = form.trend_period()
    comparison = compare(db.session, form.query(("period",), period), calendar, _short())
    by_service = records(report(db.session, form.query(("service",)), calendar, _short()))
    volume = volume_by_weekday_hour(db.session, form.query())
    weekday_counts = [int(volume.loc[volume["weekday"] == d, "contacts"].sum()) for d in range(1, 8)]
    hours = list(range(24))
    hour_counts = [int(volume.loc[volume["hour"] == h, "contacts"].sum()) for h in hours]
    weekdays = weekday_names()
    context = {
        "as_of": form.as_of.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M"),
        "total": total,
        "by_service": by_service,
        "key_figures": KEY_FIGURES,
        "export_groupings": export_groupings(),
        "export_formats": export_formats(),
        "table_figures": TABLE_FIGURES,
        **charts.trend_charts(comparison, period, form.as_of.astimezone(STOCKHOLM).date(), current_locale()),
        "weekday_counts": list(zip(weekdays, weekday_counts, strict=True)),
        "hour_counts": list(zip(hours, hour_counts, strict=True)),
        "weekday_chart": charts.bar_chart(
            "weekday", _("Kontakter per veckodag"), weekdays, weekday_counts, locale=current_locale()
        ),
        "hour_chart": charts.bar_chart(
            "hour", _("Kontakter per timme"), [f"{h:02d}" for h in hours], hour_counts, locale=current_locale()
        ),
    }
    return _page("metrics/reports.html", form, ok, **context)


def export_groupings() -> list[tuple[str, str]]:
    """The groupings offered for a dashboard export (`--by` of the command)."""
    return [
        ("", _("Hela perioden, en rad")),
        ("service,period:month", _("Tjänst och månad")),
        ("service,period:week", _("Tjänst och vecka")),
        ("service,period:day", _("Tjänst och dag")),
        ("department,period:month", _("Förvaltning och månad")),
        ("channel,period:month", _("Kanal och månad")),
        ("location,period:month", _("Plats och månad")),
        ("language,period:month", _("Språk och månad")),
        ("service,channel,location,language,period:day", _("Allt per dag (största exporten)")),
    ]


def export_formats() -> list[tuple[str, str]]:
    """The export formats offered on the dashboard: the CSV for people beside the machine CSV."""
    return [("csv", "CSV"), (PEOPLE_CSV, _("CSV för svenska Excel")), ("xlsx", "XLSX"), ("json", "JSON")]


def _filter_form_from(source: MultiDict, own_department: bool = False) -> tuple[FilterForm, bool]:
    args = MultiDict(default_dates())
    if own_department and "department" not in source and current_user.role == "coordinator" and current_user.department:
        # A coordinator's dashboard opens on their own department; "Alla" is one choice away.
        args["department"] = current_user.department.code
    for key, value in source.items(multi=True):
        if key in args:
            args.setlist(key, [value])
        else:
            args.add(key, value)
    form = FilterForm(formdata=args)
    form.fill_choices(db.session, current_locale())
    return form, form.validate()


def _export_request(source: MultiDict):
    """The filters, format and grouping of an export, and what is wrong with them."""
    form, ok = _filter_form_from(source)
    fmt = source.get("format", "csv")
    errors = (
        [] if ok else [f"{form[name].label.text}: {' '.join(map(str, errs))}" for name, errs in form.errors.items()]
    )
    try:
        by, period = parse_by(source.get("by", ""))
    except ReportError as exc:  # one of the request's problems: all of them are shown together
        errors.append(exc.translated())
        by, period = (), None
    if fmt not in FORMATS:
        errors.append(_("Okänt format: %(format)s. Välj bland: %(formats)s.", format=fmt, formats=", ".join(FORMATS)))
    meta = {}
    if not errors:
        meta = {
            "from": form.start.data.isoformat(),
            "to": form.end.data.isoformat(),
            "by": source.get("by", ""),
            "filters": form.filters().active(),
            "as_of": iso_as_of(form.as_of),
        }
    return form, fmt, (by, period), meta, errors


def _export_filename(form: FilterForm, fmt: str) -> str:
    return f"tillganglighet_{form.start.data.isoformat()}_{form.end.data.isoformat()}{FILE_ENDINGS[fmt]}"


@bp.get("/reports/export")
@roles_required(*REPORT_ROLES)
def export_report():
    """The export as a direct download (scripts, small periods)."""
    form, fmt, (by, period), meta, errors = _export_request(request.args)
    if errors:
        return Response("\n".join(errors) + "\n", status=400, mimetype="text/plain")
    table = report(db.session, form.query(by, period), _calendar(), _short())
    data = export(fmt, list(table.columns), records(table), meta, names=names_for(fmt, db.session))
    return Response(
        data,
        mimetype=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{_export_filename(form, fmt)}"'},
    )


@bp.post("/reports/exports")
@roles_required(*REPORT_ROLES)
def start_export():
    """Start an export in the background and show its progress."""
    form, fmt, (by, period), meta, errors = _export_request(request.form)
    if errors:
        return Response("\n".join(errors) + "\n", status=400, mimetype="text/plain")
    token = export_jobs.start_export(
        current_app._get_current_object(),
        db.session,
        current_user.id,
        form.query(by, period),
        fmt,
        meta,
        _calendar(),
        _short(),
        _export_filename(form, fmt),
    )
    return redirect(url_for("metrics.export_progress", token=token), code=303)


def _job_or_404(token: str) -> ReportExport:
    job = export_jobs.load_export(db.session, token, current_user.id)
    if job is None:
        abort(404)
    return job


@bp.get("/reports/exports/<token>")
@roles_required(*REPORT_ROLES)
def export_progress(token: str):
    job = _job_or_404(token)
    if request.args.get("format") == "json":
        return {"state": job.status, "percent": job.progress, "rows": job.rows}
    return render_template("metrics/export_progress.html", job=job, token=token, filter_args={})


@bp.get("/reports/exports/<token>/file")
@roles_required(*REPORT_ROLES)
def export_file(token: str):
    job = _job_or_404(token)
    data = export_jobs.export_data(db.session, job) if job.status == "done" else None
    if data is None:
        abort(404)
    return Response(
        data,
        mimetype=job.content_type,
        headers={"Content-Disposition": f'attachment; filename="{job.filename}"'},
    )


@bp.get("/reports/drill")
@roles_required(*REPORT_ROLES)
def drill_down():
    form, ok = _filter_form()
    figure = request.args.get("figure", "")
    if figure not in DRILLABLE:
        abort(404)
    result = drill(db.session, form.query(), figure, _calendar(), _short()) if ok else None
    if result is not None:
        # Listed only what the reader may open (tickets/access.py); the rest is only counted.
        result.tickets = [t for t in result.tickets if can_read(current_user, t)]
    return _page("metrics/drill.html", form, ok, figure=figure, result=result)


@bp.get("/reports/likvardighet")
@roles_required(*REPORT_ROLES)
def equity_page():
    form, ok = _filter_form()
    dimension = request.args.get("dimension", "language")
    if dimension not in EQUITY_DIMENSIONS:
        dimension = "language"
    figures = chosen_figures(request.args.getlist("figure"))
    result = equity(db.session, _calendar(), form.query(), dimension) if ok else None
    if result is not None:
        result["figures"] = figures  # every figure is computed; the table shows the chosen ones
    return _page(
        "metrics/equity.html",
        form,
        ok,
        dimension=dimension,
        result=result,
        dimensions=EQUITY_DIMENSIONS,
        figures=figures,
        all_figures=[name for name, _ in EQUITY_COMPARED],
    )


@bp.get("/reports/lokal-service")
@roles_required(*REPORT_ROLES)
def local_service_page():
    form, ok = _filter_form()
    result = None
    chart = trend_chart = None
    if ok:
        period = form.period.data or "month"
        result = local_service(db.session, _calendar(), form.query(period=period))
        locale = current_locale()
        as_of_day = form.as_of.astimezone(STOCKHOLM).date()
        partial = [is_partial(p, period, form.start.data, form.end.data, as_of_day) for p in result["periods"]]
        chart = charts.bar_chart(
            "visits-by-location",
            _("Besök per plats"),
            [r["name"] for r in result["rows"]],
            [r["total"] for r in result["rows"]],
            locale=locale,
        )
        trend_chart = charts.line_chart(
            "visits-by-kind",
            _("Besök per period och typ av plats"),
            [period_label(p, period, locale) for p in result["periods"]],
            [
                charts.Series(str(LOCATION_KIND_LABELS.get(kind, kind)), values, partial)
                for kind, values in result["kinds"]
            ],
            locale=locale,
        )
    return _page("metrics/local_service.html", form, ok, result=result, chart=chart, trend_chart=trend_chart)


@bp.get("/reports/bemanning")
@roles_required(*REPORT_ROLES)
def staffing_page():
    form, ok = _filter_form()
    staffing = StaffingForm(formdata=request.args if request.args.get("interval") else None)
    ok = ok and (staffing.validate() if request.args.get("interval") else True)
    plan = None
    aht = None
    if ok:
        interval = int(staffing.interval.data)
        service = form.service.data or None
        pattern = arrival_pattern(db.session, service, form.start.data, form.end.data, interval)
        aht = history_aht(db.session, _calendar(), service, form.start.data, form.end.data)
        plan = (
            staffing_plan(
                pattern,
                aht,
                interval,
                staffing.target_level.data / 100,
                staffing.target_seconds.data,
                staffing.shrinkage.data / 100,
            )
            if aht
            else []
        )
    return _page("metrics/staffing.html", form, ok, staffing=staffing, plan=plan, aht=aht, weekdays=weekday_names())


@bp.get("/reports/kostnader")
@roles_required(*REPORT_ROLES)
def costs_page():
    form, ok = _filter_form()
    cost_form = CostForm(formdata=request.args if "cost" in request.args else None)
    ok = ok and (cost_form.validate() if "cost" in request.args else True)
    rows, config_error = None, None
    if ok:
        try:
            rows = cost_allocation(
                db.session,
                _calendar(),
                current_app.config,
                form.query(("period",), form.period.data or "month"),
                float(cost_form.cost.data),
            )
        except CostConfigError as exc:
            config_error = str(exc)
    return _page("metrics/costs.html", form, ok, cost_form=cost_form, rows=rows, config_error=config_error)


@bp.get("/reports/samordnare")
@roles_required(*REPORT_ROLES)
def coordinator_page():
    form, ok = _filter_form()
    departments = db.session.scalars(select(Department).order_by(Department.name_sv)).all()
    if current_user.role == "coordinator":
        # A coordinator sees their own department's view only.
        department = current_user.department
    else:
        code = request.args.get("department") or (departments[0].code if departments else "")
        department = next((d for d in departments if d.code == code), None)
    if department is None:
        abort(404)
    result = (
        coordinator_view(db.session, _calendar(), department, form.query(), locale=current_locale()) if ok else None
    )
    return _page("metrics/coordinator.html", form, ok, result=result, department=department, departments=departments)


def _own_department_query(query):
    """A coordinator's reports cover their own department only, whatever the filters say."""
    if current_user.role != "coordinator":
        return query
    own = current_user.department.code if current_user.department else "-"
    return replace(query, filters=replace(query.filters, department=own))


@bp.get("/reports/utveckling")
@roles_required(*REPORT_ROLES)
def development_page():
    """Tjänsteutveckling: why citizens contact the city, and which contacts its own processes cause."""
    form, ok = _filter_form()
    result = None
    if ok:
        query = _own_department_query(form.query())
        (total,) = records(development_report(db.session, query))
        by_service = records(development_report(db.session, replace(query, by=("service",))))
        core_by_service = records(report(db.session, replace(query, by=("service",)), _calendar(), _short()))
        # "Low" first-contact resolution: below the whole city's in the same period.
        (city,) = records(report(db.session, replace(query, filters=Filters()), _calendar(), _short()))
        names = {s.code: s.name(current_locale()) for s in db.session.scalars(select(Service))}
        result = {
            "total": total,
            "by_service": by_service,
            "top_reasons": development.top_reasons(db.session, query),
            "returned": development.returned_escalations(db.session, query),
            "low_fcr": development.low_fcr_without_article(db.session, core_by_service, city["fcr_rate"]),
            "city_fcr": city["fcr_rate"],
            "names": names,
        }
    return _page("metrics/development.html", form, ok, result=result, figures=development.FIGURE_NAMES)


@bp.get("/reports/kvartal")
@roles_required(*REPORT_ROLES)
def quarter_page():
    """The department quarter report (budget dialogue): coordinators their own department, managers any."""
    departments = db.session.scalars(select(Department).order_by(Department.name_sv)).all()
    code = request.args.get("department", "")
    if current_user.role == "coordinator":
        own = current_user.department
        if own is None or (code and code != own.code):
            abort(404)  # another department's report: as if it did not exist
        department, departments = own, [own]
    else:
        department = next((d for d in departments if d.code == code), None)
        if code and department is None:
            abort(404)
    quarter_text = request.args.get("quarter", "").strip() or current_quarter(datetime.now(STOCKHOLM).date())
    cost_text = request.args.get("cost", "").strip()
    result, error, status = None, None, 200
    if department is not None:
        try:
            cost = float(cost_text.replace("\u00a0", "").replace(" ", "").replace(",", ".")) if cost_text else None
            if cost is not None and cost < 0:
                raise ValueError
        except ValueError:
            error, status = _("Ange kostnaden i hela kronor, t.ex. 720000."), 400
            cost = None
        if error is None:
            try:
                result = quarter_report(
                    db.session,
                    _calendar(),
                    current_app.config,
                    department,
                    quarter_text,
                    datetime.now(UTC).replace(microsecond=0),
                    total_cost=cost,
                    targets=report_targets(),
                    locale=current_locale(),
                )
            except QuarterError as exc:
                error, status = str(exc), 400
    return render_template(
        "metrics/quarter.html",
        filter_args={},
        departments=departments,
        department=department,
        quarter=quarter_text,
        cost_text=cost_text,
        result=result,
        error=error,
        print_view=_print_view() and result is not None,
    ), status


@bp.app_context_processor
def _labels():
    return {
        "figure_labels": FIGURE_LABELS,
        "report_pages": REPORT_PAGES,
        "need_labels": NEED_LABELS,
        "location_kind_labels": LOCATION_KIND_LABELS,
        "drillable": DRILLABLE,
        "reason_category_labels": REASON_CATEGORY_LABELS,
    }


def _decimal_mark(text: str) -> str:
    return text.replace(".", ",") if current_locale() == "sv" else text


@bp.app_template_global()
def figure_value(name: str, value) -> str:
    """A figure for the screen: rates as percent with one decimal, times with their unit."""
    if value is None:
        return "–"
    kind = FIGURE_KINDS.get(name, "count")
    if kind == "rate":
        return _decimal_mark(f"{value * 100:.1f} %")
    if kind == "seconds":
        return _decimal_mark(f"{value:.1f} s")
    if kind == "hours":
        return _decimal_mark(f"{value:.2f} h")
    return f"{value:,}".replace(",", "\u00a0")


@bp.app_template_global()
def kronor(amount) -> str:
    """An amount for the screen: "72 000 kr", "1 234,50 kr" (METRICS.md cost split)."""
    return format_kronor(amount, current_locale())


@bp.app_template_global()
def figure_difference(name: str, value) -> str:
    """A group's difference from everyone: percentage points for a rate, the unit for a time."""
    if value is None:
        return "–"
    kind = FIGURE_KINDS.get(name, "count")
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    size = abs(value)
    if kind == "rate":
        return _decimal_mark(f"{sign}{size * 100:.1f} ") + _("p.e.")
    if kind == "seconds":
        return _decimal_mark(f"{sign}{size:.1f} s")
    if kind == "hours":
        return _decimal_mark(f"{sign}{size:.2f} h")
    return f"{sign}{size}"


@bp.get("/reports/vaxel")
@roles_required(*REPORT_ROLES)
def switchboard_page():
    """The switchboard figures: calls that asked for a person, transfers, the distribution's offers."""
    form, ok = _filter_form()
    result = None
    if ok:
        query = _own_department_query(form.query())
        (total,) = records(switchboard_figures.switchboard_report(db.session, replace(query, by=(), period=None)))
        by_service = records(
            switchboard_figures.switchboard_report(db.session, replace(query, by=("service",), period=None))
        )
        names = {s.code: s.name(current_locale()) for s in db.session.scalars(select(Service))}
        result = {"total": total, "by_service": by_service, "names": names}
    return _page("switchboard/report.html", form, ok, result=result, figures=switchboard_figures.FIGURE_NAMES)
