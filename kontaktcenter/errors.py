"""The one base of the domain's refusals: bad input, or an action that cannot be done now.

A `DomainError` says what is wrong in words a user can act on, optionally about one
`field` of the form or request. Every surface answers it in its own way (errors_http.py:
a flashed message, problem+json, Open311's error list, a spoken apology), so domain code
raises it and views do not catch it. Configuration and programming errors are not
domain errors: they are for the operator or the developer, and stay exceptions of their own.

This module imports nothing of the project: any part of it may raise a DomainError.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_babel import gettext


class DomainError(Exception):
    """Input that cannot be used or an action refused; `message` says why.

    `message` is a lazy string or a Swedish message id (looked up in the catalogue when
    shown, with `params` filled in); `field` names the form or request field it is about.
    `status` is the HTTP status a machine client receives (400 unless a subclass says otherwise).
    """

    status = 400

    def __init__(self, message: Any = "", *, field: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.params = params

    def __str__(self) -> str:
        return self.translated()

    def translated(self) -> str:
        """The message in the user's language (outside a request, as written)."""
        if not isinstance(self.message, str):  # a lazy string translates itself
            return str(self.message)
        if has_request_context():
            return gettext(self.message, **self.params)
        return self.message % self.params if self.params else self.message

    def messages(self) -> list[str]:
        """Each problem as one message (a subclass with several problems lists them all)."""
        return [self.translated()]
