"""Alembic environment: the models' metadata, the URL from kontaktcenter's config."""

from __future__ import annotations

from alembic import context

from kontaktcenter import models
from kontaktcenter.config import load_config
from kontaktcenter.database import make_engine

config = context.config
target_metadata = models.Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    url = load_config().get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set; run `kontaktcenter db upgrade` instead of alembic directly.")
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode recreates tables. Dropping
    # the old copy of a table other rows refer to (users, by messages and events) fails while
    # SQLite enforces foreign keys, so they are off during the migration (the pragma only
    # takes effect outside a transaction) and checked once it is done.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        if broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall():
            raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
