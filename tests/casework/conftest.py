"""Casework fixtures."""

import pytest
from sqlalchemy import update

from kontaktcenter.directory.models import User


@pytest.fixture
def everyone_away(session):
    """No agent is available, so routing leaves new tickets waiting in their queue."""
    session.execute(update(User).values(presence="away"))
    session.commit()
