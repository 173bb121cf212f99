"""Settings: config/default.toml < the site file (KONTAKTCENTER_CONFIG) < environment < test overrides.

Each layer is merged into the one below table by table, key by key, except the open maps
(OPEN_MAPS), whose entries belong to the site as a whole: a layer that gives one replaces it.
Every key has its default in default.toml, and its type there is the only type accepted: an
unknown key or a wrong type stops the start with the file and the key named. The result is
read-only (tables are mappingproxies, lists are tuples).
"""

from __future__ import annotations

import difflib
import os
import secrets
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from limits import parse_many

from .defaults import defaults, frozen

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Tables whose entries are the site's as a whole (a menu, a cost key, a group map): a layer
# that gives one replaces the default table whole. Every other table merges key by key.
OPEN_MAPS = frozenset(
    {
        ("phone", "menu"),
        ("cost_allocation", "base_key"),
        ("oidc", "groups"),
        ("opening_hours",),
        ("calendar", "department_closing_days"),
    }
)

# Keys that environment variables may set; the type (and so the coercion) is the default's.
ENV_KEYS = (
    "DATABASE_URL",
    "SECRET_KEY",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM_NUMBER",
    "PUBLIC_BASE_URL",
    "REDIS_URL",
    "SMTP_URL",
    "MAIL_FROM",
    "INBOUND_EMAIL_SECRET",
    "RULES_DIR",
    "ENV",
    "SCHEDULER_ENABLED",
    "SHORT_ABANDON_SECONDS",
    "TRUSTED_PROXIES",
    "API_INTAKE",
    "SESSION_IDLE_MINUTES",
    "SESSION_LIFETIME_HOURS",
    "PASSWORD_LINK_WELCOME_HOURS",
    "PASSWORD_LINK_RESET_HOURS",
    "LOGIN_LIMIT_ACCOUNT",
    "LOGIN_LIMIT_CLIENT",
    "PASSWORD_LOGIN",
    "OIDC_ISSUER",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_SCOPES",
    "OIDC_GROUPS_CLAIM",
    "OIDC_ROLE_MAP",  # JSON of the [oidc.groups] table's shape; replaces the table
    "ACCESS_LOG_RETENTION",
    "TWO_FACTOR_REQUIRED_ROLES",  # comma-separated in the environment
)
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
        raise ConfigError(f"environment: {key}={raw!r}: expected true or false")
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            expected = "a whole number" if kind is int else "a number"
            raise ConfigError(f"environment: {key}={raw!r}: expected {expected}") from None
    if kind in (list, tuple):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def _where(path: tuple[str, ...], key: str) -> str:
    return f"[{'.'.join(path)}] {key}" if path else key


def _typed(default: Any, value: Any, source: str, path: tuple[str, ...], key: str) -> Any:
    """`value` if it has the default's type (an int where a float is expected is taken as one)."""
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    same = (
        isinstance(value, bool)
        if isinstance(default, bool)
        else isinstance(value, list | tuple)
        if isinstance(default, list | tuple)
        else isinstance(value, type(default)) and not isinstance(value, bool)
    )
    if not same:
        raise ConfigError(
            f"{source}: {_where(path, key)}: expected {_kind(default)} (as the default {default!r}), got {value!r}"
        )
    if isinstance(default, list | tuple) and default:
        for item in value:
            _typed(default[0], item, source, path, key)
    return value


def _merge(
    base: Mapping[str, Any], layer: Mapping[str, Any], source: str, path: tuple[str, ...] = (), *, open_keys=False
) -> dict[str, Any]:
    """`base` with `layer` merged in; keys and types checked against `base` (the defaults' shape)."""
    merged = dict(base)
    for key, value in layer.items():
        if key not in base:
            if open_keys:  # test overrides may add Flask's and its extensions' own keys
                merged[key] = value
                continue
            raise ConfigError(f"{source}: {_where(path, key)}: unknown key ({_known(base, key, path)})")
        default = base[key]
        inner = (*path, key)
        if not isinstance(default, Mapping):
            merged[key] = _typed(default, value, source, path, key)
        elif not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {_where(path, key)}: expected a table, got {value!r}")
        elif inner in OPEN_MAPS:
            # The layer's table whole, each entry of the default entries' type (when there are any).
            sample = next(iter(default.values()), None)
            merged[key] = {
                name: entry if sample is None else _typed(sample, entry, source, inner, name)
                for name, entry in value.items()
            }
        else:
            merged[key] = _merge(default, value, source, inner)
    return merged


def _known(table: Mapping[str, Any], key: str, path: tuple[str, ...]) -> str:
    if path:
        return f"known: {', '.join(table)}"
    close = difflib.get_close_matches(key, list(table), n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"{hint}every key is listed in config/default.toml"


def load_config(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Mapping[str, Any]:
    """The settings: default.toml < KONTAKTCENTER_CONFIG < environment (ENV_KEYS) < overrides, checked, frozen."""
    environ = os.environ if environ is None else environ
    base = defaults()
    config = base
    site = environ.get("KONTAKTCENTER_CONFIG")
    if site:
        config = _merge(config, _read_toml(Path(site)), site)
    from_env = {key: _coerce(key, environ[key], type(base[key])) for key in ENV_KEYS if key in environ}
    config = _merge(config, from_env, "environment")
    if overrides:
        config = _merge(config, overrides, "overrides", open_keys=True)
    settings = frozen(config)
    _check_calendar(settings)
    if settings["API_INTAKE"] not in API_INTAKES:
        raise ConfigError(f"API_INTAKE={settings['API_INTAKE']!r}: expected one of {', '.join(API_INTAKES)}")
    _check_sessions(settings)
    _check_sso(settings)
    _check_access_log_retention(settings)
    _check_two_factor(settings)
    _check_cost_allocation(settings)
    _check_report_targets(settings)
    if settings["ENV"] == "production":
        _check_production_secret(settings["SECRET_KEY"])
    return settings


def _check_calendar(config: Mapping[str, Any]) -> None:
    """A mistyped closing day or opening hour stops the start, not the first SLA clock."""
    from .worktime.calendar import calendar_from_config

    try:
        calendar_from_config(config)
    except ValueError as exc:
        raise ConfigError(f"[calendar] / [opening_hours]: {exc}") from None


def _check_cost_allocation(config: Mapping[str, Any]) -> None:
    """The shares are checked at start; the department codes against the directory on the cost page."""
    from .metrics.costs import CostConfigError, base_key

    try:
        base_key(config)
    except CostConfigError as exc:
        raise ConfigError(str(exc)) from None


def _check_report_targets(config: Mapping[str, Any]) -> None:
    """A target is a rate (0..1): 80 for 80 % would draw a line far above every chart."""
    for name, value in config["report_targets"].items():
        if not 0 <= value <= 1:
            raise ConfigError(f"[report_targets] {name} = {value}: expected a rate between 0 and 1, such as 0.8")


def _check_sessions(config: Mapping[str, Any]) -> None:
    for key in (
        "SESSION_IDLE_MINUTES",
        "SESSION_LIFETIME_HOURS",
        "PASSWORD_LINK_WELCOME_HOURS",
        "PASSWORD_LINK_RESET_HOURS",
    ):
        if config[key] <= 0:
            raise ConfigError(f"{key}={config[key]!r}: expected a whole number above 0")
    for key in ("LOGIN_LIMIT_ACCOUNT", "LOGIN_LIMIT_CLIENT"):
        try:
            parse_many(config[key])
        except ValueError:
            raise ConfigError(f'{key}={config[key]!r}: expected limits such as "10 per minute; 30 per hour"') from None


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
        parse_period(config["ACCESS_LOG_RETENTION"])
    except ValueError as exc:
        raise ConfigError(f"ACCESS_LOG_RETENTION: {exc}") from None


def _check_two_factor(config: Mapping[str, Any]) -> None:
    from .vocabulary import ROLES

    roles = config["TWO_FACTOR_REQUIRED_ROLES"]  # a list of strings: checked with the other types
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
