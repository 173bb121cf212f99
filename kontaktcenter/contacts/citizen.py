"""Citizen identifiers: phone numbers, e-mail addresses and personnummer, validated and normalised,
and the pseudonymous citizen_key an import brings from its source system."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from personnummer import personnummer

from ..errors import DomainError


class IdentifierError(DomainError, ValueError):
    """An identifier that is not valid; the message says what is wrong."""


def normalise_phone(raw: str, region: str = "SE") -> str:
    """E.164 (+46701234567); Swedish national format is assumed without a country code."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise IdentifierError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise IdentifierError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def caller_number(raw: str | None) -> str | None:
    """E.164 of a caller or texter as Twilio gives it, or None for a withheld or unusable number."""
    if not raw:
        return None
    try:
        return normalise_phone(raw)
    except IdentifierError:
        return None


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise IdentifierError("not a valid e-mail address") from None


def normalise_personnummer(raw: str) -> str:
    """Twelve digits YYYYMMDDNNNN; samordningsnummer (day + 60) are accepted too."""
    try:
        pnr = personnummer.parse(raw.strip())
    except (personnummer.PersonnummerException, ValueError, TypeError):
        raise IdentifierError("not a valid personnummer or samordningsnummer") from None
    return pnr.format(True)


CITIZEN_KEY_LENGTH = 128


def normalise_citizen_key(raw: str) -> str:
    """A source system's pseudonymous id, kept as given (only surrounding spaces dropped)."""
    key = (raw or "").strip()
    if not key:
        raise IdentifierError("an empty citizen key")
    if len(key) > CITIZEN_KEY_LENGTH:
        raise IdentifierError(f"a citizen key is at most {CITIZEN_KEY_LENGTH} characters")
    return key


def mask_citizen_key(key: str | None) -> str:
    """Never shown whole: its first two characters, enough to tell keys apart in an audit."""
    if not key:
        return ""
    return f"{key[:2]}***"


def mask_personnummer(pnr: str | None) -> str:
    """Lists and exports show only the birth date part: 19900101-XXXX."""
    if not pnr:
        return ""
    return f"{pnr[:8]}-XXXX"


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:-4] + "XXXX" if len(phone) > 6 else "XXXX"


def mask_email(email: str | None) -> str:
    if not email:
        return ""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_identifier(kind: str, value: str) -> str:
    """A personnummer, phone, e-mail or citizen key as logs keep it: enough to audit, not to reuse."""
    mask = {
        "personnummer": mask_personnummer,
        "phone": mask_phone,
        "email": mask_email,
        "citizen_key": mask_citizen_key,
    }[kind]
    return f"{kind} {mask(value)}"
