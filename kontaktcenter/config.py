"""Configuration: defaults < config/default.toml < KONTAKTCENTER_CONFIG file < environment."""

from __future__ import annotations

import os
import secrets
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from limits import parse_many

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = Path(__file__).resolve().parent / "default.toml"

# Keys that environment variables may set, with their types.
ENV_KEYS: dict[str, type] = {
    "DATABASE_URL": str,
    "SECRET_KEY": str,
    "TWILIO_ACCOUNT_SID": str,
    "TWILIO_AUTH_TOKEN": str,
    "TWILIO_FROM_NUMBER": str,
    "PUBLIC_BASE_URL": str,
    "REDIS_URL": str,
    "SMTP_URL": str,
    "MAIL_FROM": str,
    "INBOUND_EMAIL_SECRET": str,
    "RULES_DIR": str,
    "ENV": str,
    "SCHEDULER_ENABLED": bool,
    "SHORT_ABANDON_SECONDS": int,
    "TRUSTED_PROXIES": int,
    "API_INTAKE": str,
    "SESSION_IDLE_MINUTES": int,
    "SESSION_LIFETIME_HOURS": int,
    "PASSWORD_LINK_WELCOME_HOURS": int,
    "PASSWORD_LINK_RESET_HOURS": int,
    "LOGIN_LIMIT_ACCOUNT": str,
    "LOGIN_LIMIT_CLIENT": str,
    "PASSWORD_LOGIN": bool,
    "OIDC_ISSUER": str,
    "OIDC_CLIENT_ID": str,
    "OIDC_CLIENT_SECRET": str,
    "OIDC_SCOPES": str,
    "OIDC_GROUPS_CLAIM": str,
    "OIDC_ROLE_MAP": str,  # JSON of the [oidc.groups] table's shape; replaces the table
    "ACCESS_LOG_RETENTION": str,
    "TWO_FACTOR_REQUIRED_ROLES": list,  # comma-separated in the environment
}
API_INTAKES = ("direct", "queued")
# A shorter SECRET_KEY can be guessed offline from one signed cookie.
MIN_SECRET_KEY_BYTES = 32


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to fix."""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None


def _coerce(key: str, raw: str, kind: type) -> Any:
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{key}={raw!r}: expected true or false")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r}: expected a whole number") from None
    if kind is list:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _check_calendar(config: Mapping[str, Any]) -> None:
    """A mistyped closing day or opening hour stops the start, not the first SLA clock."""
    from .worktime.calendar import calendar_from_config

    try:
        calendar_from_config(config)
    except ValueError as exc:
        raise ConfigError(f"[calendar] / [opening_hours]: {exc}") from None


def load_config(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    project_default = PROJECT_ROOT / "config" / "default.toml"
    config = _read_toml(project_default if project_default.exists() else DEFAULT_FILE)
    extra = environ.get("KONTAKTCENTER_CONFIG")
    if extra:
        config.update(_read_toml(Path(extra)))
    for key, kind in ENV_KEYS.items():
        if key in environ:
            config[key] = _coerce(key, environ[key], kind)
    if overrides:
        config.update(overrides)
    _check_calendar(config)
    if config.get("API_INTAKE", "direct") not in API_INTAKES:
        raise ConfigError(f"API_INTAKE={config['API_INTAKE']!r}: expected one of {', '.join(API_INTAKES)}")
    _check_sessions(config)
    _check_sso(config)
    _check_access_log_retention(config)
    _check_two_factor(config)
    if config.get("ENV") == "production":
        _check_production_secret(config.get("SECRET_KEY"))
    return config


def _check_sessions(config: Mapping[str, Any]) -> None:
    for key in (
        "SESSION_IDLE_MINUTES",
        "SESSION_LIFETIME_HOURS",
        "PASSWORD_LINK_WELCOME_HOURS",
        "PASSWORD_LINK_RESET_HOURS",
    ):
        if not isinstance(config.get(key), int) or config[key] <= 0:
            raise ConfigError(f"{key}={config.get(key)!r}: expected a whole number above 0")
    for key in ("LOGIN_LIMIT_ACCOUNT", "LOGIN_LIMIT_CLIENT"):
        try:
            parse_many(str(config.get(key, "")))
        except ValueError:
            raise ConfigError(
                f'{key}={config.get(key)!r}: expected limits such as "10 per minute; 30 per hour"'
            ) from None


def _check_sso(config: Mapping[str, Any]) -> None:
    """A mistyped role or a half-configured provider stops the start, not the first sign-in."""
    from .auth.sso import Settings, SSOConfigError

    try:
        Settings.from_config(config)
    except SSOConfigError as exc:
        raise ConfigError(str(exc)) from None


def _check_access_log_retention(config: Mapping[str, Any]) -> None:
    from .worktime.periods import parse_period

    try:
        parse_period(str(config.get("ACCESS_LOG_RETENTION", "P2Y")))
    except ValueError as exc:
        raise ConfigError(f"ACCESS_LOG_RETENTION: {exc}") from None


def _check_two_factor(config: Mapping[str, Any]) -> None:
    from .vocabulary import ROLES

    roles = config.get("TWO_FACTOR_REQUIRED_ROLES", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ConfigError(f'TWO_FACTOR_REQUIRED_ROLES={roles!r}: expected a list of roles such as ["admin", "manager"]')
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ConfigError(
            f"TWO_FACTOR_REQUIRED_ROLES: unknown role(s) {', '.join(unknown)}; the roles are {', '.join(ROLES)}"
        )


def _check_production_secret(key: Any) -> None:
    if not key:
        raise ConfigError(
            "SECRET_KEY is not set: a production configuration refuses to start without it. "
            "Set the SECRET_KEY environment variable to a long random value, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'."
        )
    if len(str(key).encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(
            f"SECRET_KEY is shorter than {MIN_SECRET_KEY_BYTES} bytes: a production configuration refuses it. "
            "Set the SECRET_KEY environment variable to a long random value, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'."
        )


def instance_secret(folder: Path, name: str, prefix: str = "") -> str:
    """A random secret kept in the instance folder: made once (mode 0600), reused after.

    Several processes may start at once (gunicorn workers): each writes a candidate to a
    private temporary file and links it into place; a link never replaces a file, so the
    first one wins and every process reads the winner's.
    """
    path = folder / name
    if not path.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, candidate = tempfile.mkstemp(dir=folder, prefix=f".{name}.")  # created 0600
        except OSError as exc:
            raise ConfigError(
                f"cannot write {path} ({exc.strerror}): make {folder} writable, or configure the secret"
            ) from None
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(prefix + secrets.token_urlsafe(48) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(candidate, path)
            except FileExistsError:
                pass  # another process won
        finally:
            os.unlink(candidate)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path} is open to other users (mode {mode:o}): run chmod 600 {path}")
    value = path.read_text().strip()
    if len(value.encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(f"{path} holds no usable secret: delete it and a new one is made at the next start")
    return value
