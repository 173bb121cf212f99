"""Jinja filters and globals shared by every page: local time, labels, the staff menu."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import lazy_gettext as _l

from .worktime.calendar import STOCKHOLM

STATUS_LABELS = {
    "new": _l("Ny"),
    "open": _l("Pågående"),
    "waiting_citizen": _l("Väntar på medborgaren"),
    "escalated": _l("Eskalerat"),
    "resolved": _l("Löst"),
}
CHANNEL_LABELS = {
    "phone": _l("Telefon"),
    "sms": _l("SMS"),
    "web": _l("Webbformulär"),
    "email": _l("E-post"),
    "walk_in": _l("Besök"),
    "open311": _l("Open311"),
}
MESSAGE_LABELS = {
    "reply": _l("Svar till medborgaren"),
    "inbound": _l("Från medborgaren"),
    "note": _l("Intern anteckning"),
}

# (endpoint, label, roles that see it) — each part of the domain appends its pages here.
STAFF_NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("casework.console", "Mina köer", ("agent", "caseworker", "coordinator", "admin")),
    ("metrics.reports", "Tillgänglighet", ("manager", "coordinator", "admin")),
    ("casework.inbox", "Inkorg", ("caseworker", "coordinator", "admin")),
    ("casework.search", "Sök ärende", ("agent", "caseworker", "coordinator", "admin")),
    ("casework.knowledge_base", "Kunskapsbank", ("agent", "caseworker", "coordinator", "admin")),
    ("accounts.user_list", "Användare", ("admin",)),
    ("privacy.access_log_page", "Åtkomstlogg", ("admin", "dataskydd")),
    ("privacy.rights_start", "Dataskydd", ("admin", "dataskydd")),
    ("auth.auth_log_page", "Inloggningslogg", ("admin",)),
    ("privacy.registerutdrag_page", "Registerutdrag", ("admin", "dataskydd")),
    ("walkin.choose_location", "Besök", ("location_staff", "agent", "admin")),
    ("tokens.tokens", "API-nycklar", ("admin",)),
    ("phone.page", "Telefon", ("agent", "caseworker", "coordinator", "admin")),
    ("live.wallboard_page", "Väggtavla", ("agent", "coordinator", "manager", "admin")),
    ("routing.rules", "Routningsregler", ("admin", "coordinator")),
    ("metrics.coordinator_page", "Min förvaltning", ("coordinator",)),
    ("directory.reasons_page", "Kontaktorsaker", ("coordinator", "admin")),
    ("switchboard.search_page", "Växel", ("agent", "caseworker", "coordinator", "admin", "location_staff", "manager")),
]


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(STOCKHOLM).strftime(fmt)


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = localtime
    # The city's name, logo and phone number in every page's header and footer ([citizen_pages]).
    brand = {key: app.config["citizen_pages"][key] for key in ("organisation", "logo", "phone")}
    app.jinja_env.globals["brand"] = brand
    app.jinja_env.globals.update(
        staff_nav=STAFF_NAV,
        status_label=lambda s: STATUS_LABELS.get(s, s),
        channel_label=lambda c: CHANNEL_LABELS.get(c, c),
        message_label=lambda k: MESSAGE_LABELS.get(k, k),
    )
