"""Two-factor sign-in: TOTP authenticators (RFC 6238, with pyotp), one-time recovery codes,
the half-signed state between password and code, and who must use it.

Secrets are stored encrypted (Fernet, from `cryptography`) with a key derived from
SECRET_KEY by HKDF: a database copy (a backup, a dump handed to a supplier) does not make
codes without the application's key, which lives outside the database. SECRET_KEY_FALLBACKS
(Flask's list of earlier keys) still decrypt, so the key can be rotated; a secret that no key
opens any more fails like a wrong code, and the user signs in with a recovery code (those
are hashed, not encrypted, so they survive any key change) or is reset by an administrator.

Recovery codes carry 79 random bits, so a fast hash (SHA-256, salted with the user id) is
enough: unlike a password there is no short list of likely values to try offline.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from markupsafe import Markup
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ..directory.models import User
from . import audit, sessions, throttle
from .models import RecoveryCode, TwoFactor
from .sso import needs_local_second_factor

STEP_SECONDS = 30  # what every authenticator app uses
DRIFT_STEPS = 1  # the code before and after the current one is accepted too (a phone's clock drifts)
DIGITS = 6
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper and typed back
RECOVERY_CODE_LENGTH = 16  # 16 × log2(31) ≈ 79 bits
# The half-signed state between a right password and the code: long enough to find the phone.
PENDING_FOR = timedelta(minutes=5)
ISSUER = "Malmö stad Kontaktcenter"


class SecretBox:
    """Encrypts and decrypts authenticator secrets with keys derived from SECRET_KEY (and its fallbacks)."""

    INFO = b"kontaktcenter two-factor secrets"

    def __init__(self, secret_keys: list[str]) -> None:
        if not secret_keys or not all(secret_keys):
            raise ValueError("two-factor secrets need SECRET_KEY")
        self._fernet = MultiFernet([Fernet(self._derive(key)) for key in secret_keys])

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SecretBox:
        return cls([str(config["SECRET_KEY"]), *(str(k) for k in config["SECRET_KEY_FALLBACKS"])])

    @classmethod
    def _derive(cls, key: str) -> bytes:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=cls.INFO).derive(key.encode())
        return base64.urlsafe_b64encode(derived)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str | None:
        """The secret, or None when no configured key opens it (SECRET_KEY changed without a fallback)."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None


# --- who must use it -------------------------------------------------------------------------


def required(user: User, config: Mapping[str, Any]) -> bool:
    # Accounts of the identity provider use its multi-factor sign-in (sso.needs_local_second_factor).
    return needs_local_second_factor(user) and user.role in config["TWO_FACTOR_REQUIRED_ROLES"]


def authenticator(session: Session, user: User) -> TwoFactor | None:
    """The user's confirmed authenticator, if any."""
    row = session.get(TwoFactor, user.id)
    return row if row is not None and row.confirmed_at is not None else None


def enrolled(session: Session, user: User) -> bool:
    return authenticator(session, user) is not None


def enrolment_due(session: Session, user: User, config: Mapping[str, Any]) -> bool:
    """The user's role requires two-factor sign-in and they have no authenticator yet."""
    return required(user, config) and not enrolled(session, user)


# --- codes -----------------------------------------------------------------------------------


def step_at(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _looks_like_totp(code: str) -> bool:
    return len(code) == DIGITS and code.isdigit()


def _matching_step(secret: str, code: str, at: datetime, after: int | None) -> tuple[int | None, bool]:
    """(the step whose code this is, within the drift window and later than `after`, or None;
    whether it matched an already used step — a replay)."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now = step_at(at)
    replayed = False
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            if after is not None and step <= after:
                replayed = True
                continue
            return step, False
    return None, replayed


def _hash_recovery(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{_normalise(code)}".encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4))


def _replace_recovery_codes(session: Session, user: User, at: datetime) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_recovery(user.id, c), created_at=at) for c in codes)
    return codes


def recovery_codes_left(session: Session, user: User) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
    )


# --- enrolment -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret as a QR code and as text to type."""

    secret: str
    uri: str

    @property
    def grouped(self) -> str:
        """The secret in groups of four, as authenticator apps accept it typed (spaces ignored)."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))

    def qr_svg(self, label: str) -> Markup:
        """The QR code as inline SVG made here: no image service sees the secret, no script draws it."""
        svg = segno.make(self.uri, error="m").svg_inline(
            scale=5, border=4, dark="#000", light="#fff", svgclass="qr-code", lineclass=None
        )
        # role and name for screen readers; the SVG text comes from segno, the label is escaped.
        return Markup(svg.replace("<svg ", Markup('<svg role="img" aria-label="{}" ').format(label), 1))  # noqa: S704


def begin_enrolment(session: Session, user: User, box: SecretBox, at: datetime) -> Enrolment:
    """A new secret to scan, or the one already shown (a reload keeps the scanned QR code valid)."""
    row = session.get(TwoFactor, user.id)
    if row is not None and row.confirmed_at is not None:
        raise ValueError(f"{user.username} already has an authenticator")
    secret = box.open(row.secret_encrypted) if row is not None else None
    if secret is None:
        secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
        if row is None:
            row = TwoFactor(user_id=user.id, created_at=at)
            session.add(row)
        row.secret_encrypted = box.seal(secret)
        row.created_at = at
    return Enrolment(secret=secret, uri=pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER))


def confirm_enrolment(
    session: Session, user: User, code: str, box: SecretBox, at: datetime, client: audit.Client
) -> list[str] | None:
    """With a valid code from the new authenticator: it is in use, and here are the recovery
    codes (shown once). A wrong code: None, and nothing changes."""
    row = session.get(TwoFactor, user.id)
    if row is None or row.confirmed_at is not None:
        return None
    secret = box.open(row.secret_encrypted)
    step, _replayed = _matching_step(secret, _normalise(code), at, None) if secret else (None, False)
    if step is None:
        return None
    row.confirmed_at, row.last_step = at, step
    codes = _replace_recovery_codes(session, user, at)
    audit.record(session, "two_factor_enrolled", at, client=client, user_id=user.id, username=user.username)
    return codes


# --- checking a code -------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """The answer to one code: accepted (by "totp" or "recovery"), or why not."""

    method: str = ""
    refused: str = ""  # "wrong", "replayed", "used" (a recovery code used before), "throttled"
    wait: int | None = None  # seconds, when throttled

    @property
    def ok(self) -> bool:
        return bool(self.method)


def check_code(
    session: Session,
    config: Mapping[str, Any],
    user: User,
    code: str,
    box: SecretBox,
    at: datetime,
    client: audit.Client,
    *,
    where: str = "sign-in",
) -> Check:
    """Check a code from the user's authenticator or one of their recovery codes.

    Throttled and counted like passwords (the same limits per account and per client); every
    refusal and every recovery code used is in the sign-in log. A code, once accepted, is
    refused for the rest of its window, and a recovery code for ever.
    """
    wait = throttle.seconds_refused(config, user.username, client.ip)
    if wait is not None:
        audit.record(
            session,
            "login_throttled",
            at,
            client=client,
            user_id=user.id,
            username=user.username,
            detail=f"two-factor code ({where}); retry after {wait} s",
        )
        return Check(refused="throttled", wait=wait)
    row = authenticator(session, user)
    given = _normalise(code)
    if row is None:
        result = Check(refused="wrong")
    elif _looks_like_totp(given):
        result = _check_totp(session, row, given, box, at)
    else:
        result = _check_recovery(session, user, given, at)
    if result.ok:
        if result.method == "recovery":
            audit.record(
                session,
                "recovery_code_used",
                at,
                client=client,
                user_id=user.id,
                username=user.username,
                detail=f"{where}; recovery codes left: {recovery_codes_left(session, user)}",
            )
        return result
    throttle.count_failure(config, user.username, client.ip)
    audit.record(
        session,
        "code_failed",
        at,
        client=client,
        user_id=user.id,
        username=user.username,
        detail=f"{where}: {result.refused}",
    )
    return result


def _check_totp(session: Session, row: TwoFactor, code: str, box: SecretBox, at: datetime) -> Check:
    secret = box.open(row.secret_encrypted)
    if secret is None:
        return Check(refused="wrong")
    step, replayed = _matching_step(secret, code, at, row.last_step)
    if step is None:
        return Check(refused="replayed" if replayed else "wrong")
    # Conditional, so two requests with one code at the same moment cannot both pass.
    claimed = session.execute(
        update(TwoFactor)
        .where(TwoFactor.user_id == row.user_id, or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < step))
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expire(row)
    return Check(method="totp") if claimed else Check(refused="replayed")


def _check_recovery(session: Session, user: User, code: str, at: datetime) -> Check:
    found = session.scalar(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_recovery(user.id, code)
        )
    )
    if found is None:
        return Check(refused="wrong")
    claimed = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == found, RecoveryCode.used_at.is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount
    return Check(method="recovery") if claimed else Check(refused="used")


# --- after enrolment -------------------------------------------------------------------------


def renew_recovery_codes(session: Session, user: User, at: datetime, client: audit.Client) -> list[str]:
    """Ten new recovery codes; every earlier one, used or not, stops working."""
    if not enrolled(session, user):
        raise ValueError(f"{user.username} has no authenticator")
    codes = _replace_recovery_codes(session, user, at)
    audit.record(session, "recovery_codes_new", at, client=client, user_id=user.id, username=user.username)
    return codes


def turn_off(session: Session, user: User, config: Mapping[str, Any], at: datetime, client: audit.Client) -> None:
    """The user stops using two-factor sign-in (the caller has checked a current code)."""
    if required(user, config):
        raise ValueError(f"the role {user.role} requires two-factor sign-in")
    _remove(session, user)
    audit.record(session, "two_factor_off", at, client=client, user_id=user.id, username=user.username)


def reset(session: Session, user: User, at: datetime, client: audit.Client, *, by: str = "") -> bool:
    """An administrator removes the user's authenticator and recovery codes (a lost phone).

    The user signs in with the password alone next time and, if the role requires it, must
    enrol again before anything else. Whether there was anything to remove. For the CLI
    (`kontaktcenter users reset-2fa`) and the user administration pages.
    """
    had = session.get(TwoFactor, user.id) is not None
    _remove(session, user)
    audit.record(
        session,
        "two_factor_reset",
        at,
        client=client,
        user_id=user.id,
        username=user.username,
        detail=f"by {by}" if by else "",
    )
    return had


def _remove(session: Session, user: User) -> None:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))
    session.expire_all()


# --- the half-signed state -------------------------------------------------------------------


def pending(user: User, at: datetime, next_url: str | None) -> dict[str, Any]:
    """What the cookie holds between a right password and the code. It names the user but
    signs no one in: flask-login's "_user_id" is not set until the code is right."""
    return {"user": user.id, "stamp": sessions.password_stamp(user), "at": at.timestamp(), "next": next_url or ""}


def pending_user(session: Session, state: Any, at: datetime) -> User | None:
    """The user waiting for the second step, while the state is fresh and the password unchanged."""
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("user"), int)
        or not isinstance(state.get("at"), float | int)
    ):
        return None
    if not 0 <= at.timestamp() - state["at"] < PENDING_FOR.total_seconds():
        return None
    user = session.get(User, state["user"])
    if user is None or not user.active or sessions.password_stamp(user) != state.get("stamp"):
        return None
    return user
