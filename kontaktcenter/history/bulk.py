"""Bulk inserts for history: COPY on PostgreSQL, executemany batches elsewhere."""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, insert, text
from sqlalchemy.orm import Session

from ..database import python_default


def _python_defaults(table: Table, given: set[str]) -> dict[str, Any]:
    """The models' Python-side defaults for columns the rows leave out (COPY applies only server defaults)."""
    defaults: dict[str, Any] = {}
    for column in table.columns:
        if column.name in given or column.primary_key:
            continue
        has_default, value = python_default(column.default)
        if has_default:
            defaults[column.name] = value
    return defaults


def _copy(session: Session, table: Table, rows: Sequence[dict[str, Any]], ids: Sequence[int] | None = None) -> None:
    columns = list(rows[0])
    defaults = _python_defaults(table, set(columns))
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    json_at = [i for i, name in enumerate(columns) if name in json_columns]
    fixed = [json.dumps(v) if n in json_columns else v for n, v in defaults.items()]
    names = (["id"] if ids is not None else []) + columns + list(defaults)
    pick = operator.itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    cursor = session.connection().connection.driver_connection.cursor()
    column_list = ", ".join(f'"{name}"' for name in names)
    with cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy:
        for index, row in enumerate(rows):
            values = list(pick(row))
            for i in json_at:
                if values[i] is not None:
                    values[i] = json.dumps(values[i])
            copy.write_row([ids[index], *values, *fixed] if ids is not None else [*values, *fixed])


def insert_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, return_ids: bool = False
) -> list[int]:
    """Insert `rows` (dicts with the same keys) into `table`; with return_ids, the new ids in row order.

    On PostgreSQL the ids are drawn from the table's sequence first and the rows go in
    with COPY, which is what makes a million-row import take minutes rather than hours.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        if return_ids:
            return list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)))
        session.execute(insert(table), list(rows))
        return []
    ids: list[int] = []
    if return_ids:
        # The table name comes from our own models, never from input.
        sequence = text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)")  # noqa: S608
        ids = list(session.scalars(sequence, {"n": len(rows)}))
    _copy(session, table, rows, ids if return_ids else None)
    return ids
