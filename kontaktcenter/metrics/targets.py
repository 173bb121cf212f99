"""The targets a nämnd measures tillgänglighet against ([report_targets] in the settings)."""

from __future__ import annotations

from flask import current_app, has_app_context

from ..defaults import defaults


def report_targets() -> dict[str, float]:
    """Figure name → target rate, from the running app's settings (default.toml's outside one)."""
    config = current_app.config if has_app_context() else defaults()
    return dict(config["report_targets"])
