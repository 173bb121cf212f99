"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kontaktcenter.database import ENGINE_KEY
from kontaktcenter.models import Base
from kontaktcenter.switchboard.models import POSTGRESQL_ONLY_INDEXES


def _compared(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in POSTGRESQL_ONLY_INDEXES)


def test_migrations_match_models(app):
    engine = app.extensions[ENGINE_KEY]
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True, "include_object": _compared}
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations disagree; run alembic revision --autogenerate: {diff}"


def test_upgrade_creates_every_table(app):
    tables = set(inspect(app.extensions[ENGINE_KEY]).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_db_upgrade_command_on_empty_database(tmp_path):
    from kontaktcenter.app import create_app

    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x"})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at revision head" in result.output
    assert {"tickets", "contacts", "ticket_events"} <= set(inspect(app.extensions[ENGINE_KEY]).get_table_names())
    app.extensions[ENGINE_KEY].dispose()
