"""The password policy: one check for every path that sets a password.

Rules: at least MIN_LENGTH characters; not containing the username; not a common or
leaked password. The list of leaked passwords is zxcvbn's bundled "passwords" frequency
list (30 000 passwords ranked by how often they appeared in leaked password dumps),
shipped and kept with the zxcvbn package rather than typed in here. Since that list is
mostly short passwords, a password is also refused when what is left after stripping
digits and punctuation from its ends is on the list ("sommar2026!!!!" is "sommar").
"""

from __future__ import annotations

import string
from functools import cache

from flask_babel import lazy_gettext as _l

from ..errors import DomainError

MIN_LENGTH = 12
MAX_LENGTH = 200
_PADDING = string.digits + string.punctuation + " "


class WeakPassword(DomainError, ValueError):
    """The password breaks the policy; `problems` says how, one message per rule."""

    def __init__(self, problems: list) -> None:
        super().__init__(problems, field="password")  # lazy strings: read when shown
        self.problems = problems

    def translated(self) -> str:  # rendered when shown: the messages are translated lazily
        return "; ".join(self.messages())

    def messages(self) -> list[str]:
        return [str(p) for p in self.problems]


@cache
def _leaked() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_leaked(password: str) -> bool:
    lowered = password.lower()
    core = lowered.strip(_PADDING)
    return lowered in _leaked() or (len(core) >= 4 and core in _leaked())


def password_problems(password: str, username: str) -> list:
    """Every rule the password breaks, as messages for the person choosing it (empty: it passes)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_l("Lösenordet ska ha minst %(min)d tecken.", min=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_l("Lösenordet får ha högst %(max)d tecken.", max=MAX_LENGTH))
    name = username.strip().lower()
    if name and name in password.lower():
        problems.append(_l("Lösenordet får inte innehålla användarnamnet."))
    if is_leaked(password):
        problems.append(_l("Lösenordet är vanligt eller har läckt och är lätt att gissa. Välj ett annat."))
    return problems


def check_password(password: str, username: str) -> None:
    """Raise WeakPassword unless the password passes every rule."""
    problems = password_problems(password, username)
    if problems:
        raise WeakPassword(problems)
