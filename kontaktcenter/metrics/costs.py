"""Cost allocation (the 2017 financing model): a base key share plus a share by contacts handled."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..directory.models import Department
from .engine import ReportQuery, records
from .report import report


class CostConfigError(ValueError):
    """[cost_allocation] in the configuration cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class CostKeys:
    base_share: float
    base_key: dict[str, float]


def base_key(config: Mapping) -> CostKeys:
    """[cost_allocation] as configured, its shares checked (at start; the codes need the directory)."""
    section = config["cost_allocation"]
    base_share = section["base_share"]
    if not 0 <= base_share <= 1:
        raise CostConfigError(f"cost_allocation.base_share = {base_share}: must lie between 0 and 1")
    key = {str(k): float(v) for k, v in section["base_key"].items()}
    if any(v < 0 for v in key.values()):
        raise CostConfigError("cost_allocation.base_key: shares cannot be negative")
    if base_share > 0 and abs(sum(key.values()) - 1) > 1e-6:
        raise CostConfigError(f"cost_allocation.base_key: the shares add up to {sum(key.values()):.4f}, not 1")
    return CostKeys(base_share, key)


def cost_keys(config: Mapping, known_departments: set[str]) -> CostKeys:
    """The configured keys, every department code in them one of the directory's."""
    keys = base_key(config)
    unknown = set(keys.base_key) - known_departments
    if unknown:
        known = ", ".join(sorted(known_departments)) or "none: load the directory (kontaktcenter directory load)"
        raise CostConfigError(
            f"cost_allocation.base_key names department code(s) not in the directory: {', '.join(sorted(unknown))}"
            f" (the directory's departments: {known})"
        )
    return keys


def handled(row: dict) -> int:
    """Contacts handled for a service: calls answered or called back, written contacts, visits served."""
    return (
        row["phone_answered"]
        + row["callbacks_completed"]
        + row["written_received"]
        + (row["walkin_visits"] - row["walkin_left_unserved"])
    )


def allocate(total_cost: float, keys: CostKeys, handled_by_department: Mapping[str, int]) -> list[dict]:
    """Split `total_cost`: base_share by the base key, the rest by contacts handled."""
    if total_cost < 0:
        raise ValueError("the cost cannot be negative")
    base_pool = total_cost * keys.base_share
    service_pool = total_cost - base_pool
    all_handled = sum(handled_by_department.values())
    rows = []
    for code in sorted(set(keys.base_key) | set(handled_by_department)):
        contacts = handled_by_department.get(code, 0)
        share = contacts / all_handled if all_handled else 0.0
        base = base_pool * keys.base_key.get(code, 0.0)
        by_service = service_pool * share
        rows.append(
            {
                "department": code,
                "base_key": round(keys.base_key.get(code, 0.0), 4),
                "contacts_handled": contacts,
                "contact_share": round(share, 4) if all_handled else None,
                "base_cost": round(base, 2),
                "service_cost": round(by_service, 2),
                "total_cost": round(base + by_service, 2),
            }
        )
    return rows


def cost_allocation(session: Session, calendar, config: Mapping, query: ReportQuery, total_cost: float) -> list[dict]:
    """Per period (as the query groups it) and department: the cost split of METRICS.md."""
    known = set(session.scalars(select(Department.code)))
    keys = cost_keys(config, known)
    by = tuple(d for d in ("department", "period") if d == "department" or d in query.by)
    table = records(
        report(
            session, ReportQuery(query.start, query.end, by=by, period=query.period, filters=query.filters), calendar
        )
    )
    periods: dict[str, dict[str, int]] = {}
    for row in table:
        periods.setdefault(row.get("period", ""), {})[row["department"] or ""] = handled(row)
    if not periods:
        periods[""] = {}
    out = []
    for period, counts in sorted(periods.items()):
        counts.pop("", None)  # contacts without a service are not a department's
        for row in allocate(total_cost, keys, counts):
            out.append({"period": period, **row})
    return out
