"""The password policy: one check for every path that sets a password."""

import pytest

from kontaktcenter.auth.passwords import WeakPassword, check_password, password_problems
from kontaktcenter.demo import _new_password
from tests.conftest import DEMO_PASSWORDS

from .conftest import GOOD_PASSWORD


def test_a_long_unusual_password_passes():
    assert password_problems(GOOD_PASSWORD, "agent") == []


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("kort-lösen1", "Lösenordet ska ha minst 12 tecken."),
        ("hej-AGENT7-och-mer", "Lösenordet får inte innehålla användarnamnet."),
        ("qwerty123456", "Lösenordet är vanligt eller har läckt och är lätt att gissa. Välj ett annat."),
        # A leaked password with digits and signs added is still the leaked password.
        ("sunshine2026!!", "Lösenordet är vanligt eller har läckt och är lätt att gissa. Välj ett annat."),
    ],
)
def test_each_rule_has_its_own_message(app, password, message):
    with app.test_request_context():
        problems = [str(p) for p in password_problems(password, "agent")]
    assert problems == [message]
    with pytest.raises(WeakPassword):
        check_password(password, "agent")


def test_messages_have_english_translations(app):
    with app.test_request_context("/?lang=en"):
        from flask_babel import force_locale

        with force_locale("en"):
            problems = [str(p) for p in password_problems("agent", "agent")]
    assert "The password must have at least 12 characters." in problems
    assert "The password must not contain the username." in problems


def test_the_demo_users_passwords_pass_the_policy():
    for username, password in DEMO_PASSWORDS.items():  # the tests' fixed ones
        assert password_problems(password, username) == [], username
    for _ in range(20):  # and those the demo makes per installation
        assert password_problems(_new_password(), "admin") == []
