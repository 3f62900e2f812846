"""The admin web UI: sign-in, Settings → Integrations, integration logs, person view.

Server-rendered (Jinja2) with a little hand-written JavaScript; ``install`` mounts it on the
service's FastAPI app.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from crmsync.engine.runtime import Runtime
from crmsync.textcheck import text_problem
from crmsync.web import (
    routes_auth,
    routes_integrations,
    routes_logs,
    routes_mappings,
    routes_people,
    routes_prefs,
    routes_test,
)
from crmsync.web.auth import (
    Forbidden,
    SignInRequired,
    WebUser,
    add_session_middleware,
    current_user,
    wants_json,
)
from crmsync.web.inputs import BadInput, InputChecked
from crmsync.web.views import STATIC_DIR, render


def install(app: FastAPI, rt: Runtime) -> None:
    app.state.signin_throttle = routes_auth.SignInThrottle()
    modules = (
        routes_auth,
        routes_integrations,
        routes_prefs,
        routes_test,
        routes_mappings,
        routes_logs,
        routes_people,
    )
    for module in modules:
        # Before each route's own dependencies: refused text never reaches a query.
        app.include_router(module.router, dependencies=[InputChecked])
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    add_session_middleware(app, rt.settings)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = routes_auth.HOME
        return RedirectResponse(
            f"/signin?next={quote(target, safe='/')}" if target != "/" else "/signin", 303
        )

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": exc.message}, status_code=403)
        context = {"title": "Not allowed", "message": exc.message}
        return render(request, rt, "error.html", context, status_code=403)

    @app.exception_handler(StarletteHTTPException)
    async def _not_found(request: Request, exc: StarletteHTTPException) -> Response:
        """The admin UI's own page for a path under /settings/ that does not exist; every
        other answer (the REST API's JSON among them) is FastAPI's."""
        if exc.status_code != 404 or not request.url.path.startswith("/settings/"):
            return await http_exception_handler(request, exc)
        if wants_json(request):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return await run_in_threadpool(_missing_page, request, rt)

    @app.exception_handler(BadInput)
    async def _bad_input(request: Request, exc: BadInput) -> Response:
        if wants_json(request):
            return JSONResponse({"ok": False, "detail": exc.message}, status_code=422)
        if request.method == "POST" and request.url.path == "/signin":
            form = await request.form()  # already read (and refused): the form again, with why
            context = {
                "next": routes_auth.safe_next(_clean(form.get("next"))),
                "email": _clean(form.get("email")),
                "orgs": [],
                "error": exc.message,
            }
            return render(request, rt, "signin.html", context, status_code=422)
        return await run_in_threadpool(_error_page, request, rt, exc.message)


def _error_page(request: Request, rt: Runtime, message: str) -> Response:
    """The refusal as a page, with the navigation when signed in (it reads the database)."""
    context = {"title": "Invalid input", "message": message}
    user = _signed_in_user(request, rt)
    return render(request, rt, "error.html", context, user=user, status_code=422)


def _missing_page(request: Request, rt: Runtime) -> Response:
    context = {"title": "Page not found", "message": "There is no page at this address."}
    user = _signed_in_user(request, rt)
    return render(request, rt, "error.html", context, user=user, status_code=404)


def _clean(value: object) -> str:
    """A form value to show again: only text that passed the check."""
    return value if isinstance(value, str) and text_problem(value) is None else ""


def _signed_in_user(request: Request, rt: Runtime) -> WebUser | None:
    """The user, for the page's navigation (the session's id is signed, not user input)."""
    if not request.session.get("uid"):
        return None
    try:
        return current_user(request, rt)
    except SignInRequired:
        return None


__all__ = ["install"]
