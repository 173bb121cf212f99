"""Fixtures of the switchboard tests: staff of the directory, Twilio's clock and driver."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from sqlalchemy import select

from kontaktcenter.directory.models import Department
from kontaktcenter.switchboard.models import StaffMember

_seq = itertools.count(1)


@pytest.fixture
def department(session):
    return lambda code: session.scalar(select(Department).where(Department.code == code))


@pytest.fixture
def make_staff(session, department):
    def make(
        name: str,
        *,
        title: str = "Handläggare",
        dept: str | None = "sbk",
        unit: str = "",
        phone: str = "+46406000100",
        email: str = "",
        keywords: str = "",
        absent_until: datetime | None = None,
        absence_message: str = "",
        alternative: StaffMember | None = None,
        active: bool = True,
        employee_id: str | None = None,
    ) -> StaffMember:
        member = StaffMember(
            employee_id=employee_id or f"E{next(_seq):05d}",
            name=name,
            title=title,
            department=department(dept) if dept else None,
            unit=unit,
            phone=phone,
            email=email,
            keywords=keywords,
            absent_until=absent_until,
            absence_message=absence_message,
            alternative=alternative,
            active=active,
        )
        session.add(member)
        session.flush()
        return member

    return make


from tests.fixtures.twilio import clock, twilio  # noqa: E402, F401 - fixtures
