"""The Web Form simulator's refusals: an `Error` answer of its API, or an error page for a browser."""

from __future__ import annotations


class WebFormProblem(Exception):
    """An `Error` answer of the Web Form API."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


class PageRefused(Exception):
    """The browser may not see this web form (unknown, opened elsewhere, bad link): an error page instead."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
