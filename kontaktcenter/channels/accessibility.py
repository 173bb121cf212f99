"""The tillgänglighetsredogörelse's facts (lagen (2018:1937) om tillgänglighet till digital
offentlig service, DIGG's model): the known gaps, and the compliance status they give."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# Each a WCAG 2.1 AA criterion this service does not yet meet, in the citizen's words. The
# status follows from this list: empty means fully compliant. Remove a line when it is fixed.
KNOWN_GAPS = (
    _l(
        "På de arabiska sidorna visas tjänsternas namn på engelska när det saknas en arabisk översättning, "
        "utan att sidan anger att texten är på engelska. En skärmläsare kan då läsa namnen med fel uttal "
        "(WCAG 3.1.2 Språk för delar av innehållet)."
    ),
)

# DIGG's page for reporting a public body's inaccessible digital service.
DIGG_REPORT_URL = "https://www.digg.se/tdosanmalan"


def compliance() -> str:
    """ "full" or "partial", as DIGG's model words it."""
    return "partial" if KNOWN_GAPS else "full"


# The citizen pages (served by privacy/views.py), linked from receipts in the citizen's language.
PRIVACY_PATH = "/personuppgifter"
ACCESSIBILITY_PATH = "/tillganglighet"


def page_url(base_url: str, path: str, locale: str) -> str:
    """An absolute link to a citizen page in the citizen's language, for a receipt."""
    query = "" if locale == "sv" else f"?lang={locale}"
    return f"{base_url.rstrip('/')}{path}{query}"
