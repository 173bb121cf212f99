"""Swedish labels for the figures and report pages (translated in the catalogues)."""

from __future__ import annotations

from babel.numbers import format_decimal
from flask_babel import lazy_gettext as _l

FIGURE_LABELS = {
    "phone_queued": _l("Samtal i kö"),
    "phone_short_abandoned": _l("Korta avbrott"),
    "phone_offered": _l("Erbjudna samtal"),
    "phone_answered": _l("Besvarade samtal"),
    "callbacks_requested": _l("Begärda återuppringningar"),
    "callbacks_completed": _l("Genomförda återuppringningar"),
    "phone_abandoned": _l("Avbrutna samtal"),
    "answer_rate": _l("Besvarandegrad"),
    "abandon_rate": _l("Andel avbrutna"),
    "service_level": _l("Servicenivå"),
    "asa_seconds": _l("Medelväntetid (s)"),
    "wait_p90_seconds": _l("Väntetid, 90:e percentilen (s)"),
    "aht_seconds": _l("Genomsnittlig samtalstid (s)"),
    "written_received": _l("Skriftliga kontakter"),
    "written_due": _l("Skriftliga med passerad svarsfrist"),
    "responded_within_1wd": _l("Besvarade inom en arbetsdag"),
    "response_within_1wd_rate": _l("Svar inom en arbetsdag"),
    "median_first_response_hours": _l("Mediantid till första svar (h)"),
    "walkin_visits": _l("Besök"),
    "walkin_wait_mean_seconds": _l("Medelväntetid besök (s)"),
    "walkin_left_unserved": _l("Besökare som gick utan hjälp"),
    "tickets": _l("Ärenden"),
    "resolved_first_contact": _l("Lösta vid första kontakten"),
    "resolved_kontaktcenter": _l("Lösta av kontaktcenter"),
    "escalated": _l("Eskalerade"),
    "fcr_rate": _l("Direktlösningsgrad"),
    "kc_resolution_rate": _l("Lösningsgrad"),
    "escalation_rate": _l("Eskaleringsgrad"),
    "written_late": _l("Skriftliga utan svar i tid"),
    # Service development (development.py)
    "contacts": _l("Kontakter"),
    "identified_contacts": _l("Kontakter med känd medborgare"),
    "repeat_contacts": _l("Återkontakter inom 7 dagar"),
    "repeat_rate": _l("Andel återkontakter"),
    "reasoned_contacts": _l("Kontakter med kontaktorsak"),
    "failure_demand": _l("Sviktefterfrågan"),
    "failure_demand_rate": _l("Andel sviktefterfrågan"),
    "kb_answered": _l("Lösta med kunskapsbanken"),
    # Switchboard, transfers and call distribution (switchboard.py)
    "switchboard_calls": _l("Samtal till växeln"),
    "switchboard_connected": _l("Kopplade av växeln"),
    "switchboard_connect_rate": _l("Andel kopplade"),
    "transfers": _l("Överkopplingar"),
    "transfers_completed": _l("Besvarade överkopplingar"),
    "offers": _l("Samtalserbjudanden"),
    "offers_missed": _l("Missade samtalserbjudanden"),
    "offer_miss_rate": _l("Andel missade samtalserbjudanden"),
}

# A contact reason's category (METRICS.md "Service development").
REASON_CATEGORY_LABELS = {
    "value": _l("Värdeskapande"),
    "failure": _l("Sviktefterfrågan"),
}

# The group columns' headings in the CSV for people (METRICS.md "For people").
GROUP_LABELS = {
    "service": _l("Tjänst"),
    "department": _l("Förvaltning"),
    "channel": _l("Kanal"),
    "location": _l("Plats"),
    "language": _l("Språk"),
    "period": _l("Period"),
}

REPORT_PAGES = [
    ("metrics.reports", _l("Översikt")),
    ("metrics.equity_page", _l("Likvärdighet")),
    ("metrics.local_service_page", _l("Lokal service")),
    ("metrics.staffing_page", _l("Bemanning")),
    ("metrics.costs_page", _l("Kostnadsfördelning")),
    ("metrics.coordinator_page", _l("Samordnare")),
    ("metrics.development_page", _l("Tjänsteutveckling")),
    ("metrics.quarter_page", _l("Kvartalsrapport")),
    ("metrics.switchboard_page", _l("Växel")),
]

NEED_LABELS = {
    "interpreter": _l("Tolk"),
    "hearing": _l("Hörsel"),
    "vision": _l("Syn"),
    "easy_read": _l("Lättläst"),
    "none": _l("Inga angivna behov"),
}
LOCATION_KIND_LABELS = {
    "contact_center": _l("Kontaktcenter"),
    "branch": _l("Filial"),
    "library": _l("Bibliotek"),
    "service_point": _l("Servicepunkt"),
}


def format_kronor(amount: float | None, locale: str = "sv") -> str:
    """Kronor as people write them: whole kronor unless there are öre, the locale's
    thousands separator (a no-break space in Swedish) and decimal mark, then "kr"."""
    if amount is None:
        return "–"
    amount = round(float(amount), 2)
    pattern = "#,##0" if amount == int(amount) else "#,##0.00"
    return format_decimal(amount, format=pattern, locale=locale) + "\u00a0kr"
