"""default.toml: every setting with its default and type, read once and made read-only.

A module of its own, importing nothing of the project, so that domain code may read a
setting's default where no app runs (tests, scripts) without depending on config.py,
which checks the merged settings with the domain's own rules.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

# In a checkout a link to config/default.toml (one file); the wheel packages its content.
DEFAULT_FILE = Path(__file__).resolve().parent / "default.toml"


def frozen(value: Any) -> Any:
    """`value` read-only, all the way down: tables as mappingproxies, lists as tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(item) for item in value)
    return value


@cache
def defaults() -> Mapping[str, Any]:
    """default.toml alone: the settings where no app runs (config.load_config gives the site's)."""
    with DEFAULT_FILE.open("rb") as fh:
        return frozen(tomllib.load(fh))
