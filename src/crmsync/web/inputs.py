"""The admin UI's edge: text the database cannot store is refused before any route runs.

PostgreSQL refuses a NUL character in text (a 500 once it reaches a query), and a lone UTF-16
surrogate is not valid Unicode. ``InputChecked`` runs before every web route's own
dependencies (CSRF, the signed-in user) and looks at every path parameter, every query
parameter and every form field (names and values), with the check the REST API uses
(:func:`crmsync.textcheck.text_problem`). A refusal is :class:`BadInput`, shown as a 422:
the sign-in form again with the message, an error page, or JSON for fetch calls.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Depends, Request
from starlette.datastructures import UploadFile

from crmsync.textcheck import text_problem

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BadInput(Exception):
    """A path, query or form value the database could not store; nothing was read or written."""

    def __init__(self, where: str, field: str, problem: str) -> None:
        self.where = where
        self.field = field
        self.message = f"The {field} {where} {problem}. Remove it and try again."
        super().__init__(self.message)


def _check(where: str, items: Iterable[tuple[str, object]]) -> None:
    for name, value in items:
        problem = text_problem(name)
        if problem:  # the name itself is not shown: it is the bad text
            raise BadInput(where, "name of a", problem)
        if isinstance(value, UploadFile):
            value = value.filename or ""
        if isinstance(value, str) and (problem := text_problem(value)):
            raise BadInput(where, name, problem)


async def check_input(request: Request) -> None:
    """Refuses unstorable text in the path, the query string and the form."""
    _check("part of the address", request.path_params.items())
    _check("parameter", request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method not in ("GET", "HEAD") and content_type in FORM_TYPES:
        form = await request.form()
        _check("field", form.multi_items())


InputChecked = Depends(check_input)

__all__ = ["BadInput", "InputChecked", "check_input"]
