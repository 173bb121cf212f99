"""Personal data masked in every application log line: personnummer, e-mail addresses, phone numbers.

Installed by the application factory (install()). The filter is applied as each record is
made (logging's record factory), not by a handler: so every handler sees the masked
record — the app's, werkzeug's request lines, gunicorn's access and error logs, a test's
caplog — including handlers configured after the app (gunicorn sets up its own). Query
strings are decoded before they are looked at, so `?q=19900101-0017` or `?q=a%40b.se` in a
request line is masked too. The masks are contacts.citizen's, the same as the access log's.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote_plus, unquote_plus

import phonenumbers

from .contacts.citizen import IdentifierError, mask_email, mask_personnummer, mask_phone, normalise_personnummer

# A word with an @ between a local part and a dotted domain.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Personnummer and samordningsnummer: (CC)YYMMDD, an optional - or +, four digits.
_PERSONNUMMER = re.compile(r"(?<![\w+])((?:19|20)?\d{6})([-+]?)(\d{4})(?!\w)")
# A cheap test before the phone number matcher: eight digits or more, separators allowed.
_DIGIT_RUN = re.compile(r"\d(?:[\s\-.()]{0,2}\d){7,}")
# A value in a query string (a request line, a logged URL).
_QUERY_VALUE = re.compile(r"(?<=[?&])([^=&\s\"'#]+=)([^&\s\"'#]*)")
_FORMATTER = logging.Formatter()
REGION = "SE"


def _personnummer(match: re.Match[str]) -> str:
    try:
        return mask_personnummer(normalise_personnummer(match.group()))
    except IdentifierError:
        pass
    if len(match.group(1)) == 8:
        # Twelve digits shaped like one but failing its check digit: a mistyped personnummer is
        # still one person's, nearly; the birth date stays, as in every mask.
        return mask_personnummer(match.group(1) + match.group(3))
    return match.group()  # ten digits: perhaps a phone number, the matcher below decides


def _phones(text: str) -> str:
    if not _DIGIT_RUN.search(text):
        return text
    parts, last = [], 0
    for found in phonenumbers.PhoneNumberMatcher(text, REGION):
        number = phonenumbers.format_number(found.number, phonenumbers.PhoneNumberFormat.E164)
        parts += [text[last : found.start], mask_phone(number)]
        last = found.end
    return "".join(parts) + text[last:] if parts else text


def _plain(text: str) -> str:
    text = _EMAIL.sub(lambda m: mask_email(m.group()), text)
    text = _PERSONNUMMER.sub(_personnummer, text)
    return _phones(text)


def _query_value(match: re.Match[str]) -> str:
    raw = match.group(2)
    decoded = unquote_plus(raw)
    masked = _plain(decoded)
    return match.group(1) + (raw if masked == decoded else quote_plus(masked, safe="@*-"))


def mask_text(text: str) -> str:
    """`text` with every personnummer, e-mail address and phone number in it masked."""
    if "=" in text:
        text = _QUERY_VALUE.sub(_query_value, text)
    return _plain(text)


class PersonalDataFilter(logging.Filter):
    """Masks a record's message (with its arguments), its traceback and its stack in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's to report, when it is emitted
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def install() -> None:
    """Mask every log record of this process as it is made (once, however many apps are created)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_personal_data", False):
        return
    mask = PersonalDataFilter()

    def masked_record(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        mask.filter(record)
        return record

    masked_record.masks_personal_data = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked_record)
