"""Configuration: defaults < config/default.toml < KONTAKTCENTER_CONFIG file < environment."""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
}
API_INTAKES = ("direct", "queued")


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
    if config.get("ENV") == "production" and not config.get("SECRET_KEY"):
        raise ConfigError(
            "SECRET_KEY is not set: a production configuration refuses to start without it. "
            "Set the SECRET_KEY environment variable to a long random value."
        )
    return config
