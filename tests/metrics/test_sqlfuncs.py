"""The reports' SQL functions reach an engine only by being registered: the app's engine has them, another not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, create_engine, select
from sqlalchemy.exc import OperationalError

from kontaktcenter.database import ENGINE_KEY, UTCDateTime
from kontaktcenter.metrics import sqlfuncs
from kontaktcenter.metrics.sqlfuncs import seconds_between

ONE_MINUTE = select(
    seconds_between(
        bindparam("later", datetime(2026, 3, 2, 9, 1, tzinfo=UTC), type_=UTCDateTime()),
        bindparam("earlier", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), type_=UTCDateTime()),
    )
)


def _seconds(engine) -> float:
    with engine.connect() as conn:
        return conn.execute(ONE_MINUTE).scalar()


def test_an_sqlite_engine_the_app_did_not_make_has_no_report_functions():
    engine = create_engine("sqlite://")  # sqlfuncs is imported: importing it changed nothing
    try:
        with pytest.raises(OperationalError, match="no such function: kc_seconds"):
            _seconds(engine)
    finally:
        engine.dispose()


def test_registering_gives_an_sqlite_engine_the_report_functions():
    engine = create_engine("sqlite://")
    sqlfuncs.register(engine)
    try:
        assert _seconds(engine) == 60.0
    finally:
        engine.dispose()


def test_the_apps_engine_runs_the_report_functions(app):
    # On SQLite through the registered functions, on PostgreSQL natively.
    assert _seconds(app.extensions[ENGINE_KEY]) == 60.0
