"""What the citizen pages say about personal data: each service's retention rule in words,
generated from the same settings gallring applies (so the page cannot drift from the job)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..directory.models import Service
from ..vocabulary import RETENTION_ACTIONS
from ..worktime.periods import Period, parse_period
from .gallring import DEFAULT_RULE

# Paths of the citizen pages: also written into receipts sent by e-mail and SMS.


@dataclass
class RetentionGroup:
    """Services that share one retention rule, in the order citizens read them (shortest first)."""

    period: Period
    action: str
    services: list[Service] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.period.years * 12 + self.period.months) * 31 + self.period.days


def retention_groups(session: Session) -> list[RetentionGroup]:
    """Every active service under its rule (period and action), shortest period first. A
    service whose setting cannot be read is left out here; gallring refuses it by name."""
    groups: dict[tuple[str, str], RetentionGroup] = {}
    for service in session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name_sv)):
        try:
            period = parse_period(service.retention_period)
        except ValueError:
            continue
        if service.retention_action not in RETENTION_ACTIONS:
            continue
        key = (period.text, service.retention_action)
        groups.setdefault(key, RetentionGroup(period, service.retention_action)).services.append(service)
    return sorted(groups.values(), key=lambda g: (g.days, g.action))


def period_in_words(period: Period) -> str:
    """`P1Y6M` → "1 år och 6 månader" in the current language."""
    parts = []
    if period.years:
        parts.append(ngettext("%(num)d år", "%(num)d år", period.years))
    if period.months:
        parts.append(ngettext("%(num)d månad", "%(num)d månader", period.months))
    if period.days:
        parts.append(ngettext("%(num)d dag", "%(num)d dagar", period.days))
    if len(parts) == 1:
        return parts[0]
    return _("%(first)s och %(last)s", first=", ".join(parts[:-1]), last=parts[-1])


def retention_in_words(period: Period) -> str:
    """ "2 år efter att ärendet avslutats"."""
    return _("%(period)s efter att ärendet avslutats", period=period_in_words(period))


def action_in_words(action: str) -> str:
    if action == "delete":
        return _(
            "Då raderas ärendets text, meddelanden och dina uppgifter. Kvar blir bara siffror utan personuppgifter, för statistik."
        )
    return _(
        "Då tas ditt namn, dina kontaktuppgifter, ditt personnummer och all text bort ur ärendet. Ärendet finns kvar utan personuppgifter, för statistik."
    )


def unanswered_call_rule() -> str:
    """Calls that ended in the phone menu have no ticket: their own rule (gallring.DEFAULT_RULE)."""
    return _(
        "Samtal som avslutas i telefonmenyn, innan de blivit ett ärende: telefonnumret sparas i %(period)s.",
        period=period_in_words(parse_period(DEFAULT_RULE)),
    )


def personnummer_services(session: Session) -> list[Service]:
    """The services that keep a personnummer (intake.incoming.keeps_personnummer); no other does."""
    return list(
        session.scalars(
            select(Service)
            .where(Service.active.is_(True), Service.requires_personnummer.is_(True))
            .order_by(Service.name_sv)
        )
    )


def citizen_page_settings(config: Mapping[str, Any]) -> dict[str, str]:
    """The [citizen_pages] settings (config/default.toml)."""
    return dict(config["citizen_pages"])
