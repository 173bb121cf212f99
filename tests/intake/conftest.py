"""Intake fixtures: the channels' API tokens."""
from tests.channels.conftest import make_token  # noqa: F401 - a fixture
