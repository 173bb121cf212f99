"""The service catalogue as citizens see it: search, and the grouped list for the form."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms.fields.choices import SelectChoice

from ...directory.models import Service, localised

# The heading of services whose group the directory does not describe (sv, en, ar).
OTHER = ("Övrigt", "Other", "أخرى")


def group_names(service: Service) -> tuple[str, ...]:
    heading = service.group_heading
    return (heading.name_sv, heading.name_en, heading.name_ar or "") if heading is not None else OTHER


def group_name(service: Service, locale: str) -> str:
    heading = service.group_heading
    return heading.name(locale) if heading is not None else localised(locale, *OTHER)


def web_services(session: Session) -> list[Service]:
    """Services offered on the form (walk-in topics such as printing help are not)."""
    return list(
        session.scalars(
            select(Service).where(Service.active.is_(True), Service.walk_in_topic.is_(False)).order_by(Service.name_sv)
        )
    )


def search_services(services: list[Service], query: str, locale: str) -> list[Service]:
    """Services whose names, keywords, description or group contain every word of the query."""
    words = query.casefold().split()
    if not words:
        return services
    found = []
    for s in services:
        haystack = " ".join(
            [
                s.name_sv,
                s.name_en,
                s.name_ar or "",
                s.keywords,
                s.description_sv,
                s.description_en,
                s.code,
                *(group_names(s) if s.group_heading is not None else ()),
            ]
        ).casefold()
        if all(w in haystack for w in words):
            found.append(s)
    return found


def grouped_choices(services: list[Service], locale: str, please_choose: str) -> list[SelectChoice]:
    """Choices for a SelectField, one <optgroup> per catalogue group in catalogue order."""
    choices = [SelectChoice("", please_choose)]
    groups: dict[str | None, list[Service]] = {}
    # Headings in the directory's order; services under no described heading last.
    for s in sorted(services, key=lambda s: (0, s.group_heading.position) if s.group_heading else (1, 0)):
        groups.setdefault(s.group_heading.code if s.group_heading else None, []).append(s)
    for members in groups.values():
        label = group_name(members[0], locale)
        # The mark lets the form show the personnummer field only for the services that use it.
        choices += [
            SelectChoice(
                s.code,
                s.name(locale),
                optgroup=label,
                render_kw={"data-personnummer": "1"} if s.requires_personnummer else {},
            )
            for s in sorted(members, key=lambda s: s.name(locale))
        ]
    return choices
