"""The tillgänglighet dashboard /reports."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from ..auth.decorators import roles_required
from ..database import db
from .engine import STOCKHOLM, resolution_by_service

bp = Blueprint("metrics", __name__)

REPORT_ROLES = ("manager", "coordinator", "admin")


def _date_arg(name: str, default: date) -> tuple[date, str | None]:
    raw = request.args.get(name)
    if not raw:
        return default, None
    try:
        return date.fromisoformat(raw), None
    except ValueError:
        return default, _("Ogiltigt datum: %(value)s. Använd formatet ÅÅÅÅ-MM-DD.", value=raw)


@bp.get("/reports")
@roles_required(*REPORT_ROLES)
def reports():
    from datetime import datetime

    today = datetime.now(STOCKHOLM).date()
    start, err1 = _date_arg("from", today - timedelta(days=29))
    end, err2 = _date_arg("to", today)
    errors = [e for e in (err1, err2) if e]
    if start > end:
        errors.append(_("Från-datumet ligger efter till-datumet."))
    rows = [] if errors else resolution_by_service(db.session, start, end)
    return render_template("metrics/reports.html", rows=rows, start=start, end=end, errors=errors), (400 if errors else 200)
