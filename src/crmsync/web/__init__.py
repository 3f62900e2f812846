"""The admin web UI: sign-in, Settings → Integrations, integration logs, person view.

Server-rendered (Jinja2) with a little hand-written JavaScript; ``install`` mounts it on the
service's FastAPI app.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from crmsync.engine.runtime import Runtime
from crmsync.web import routes_auth, routes_integrations, routes_logs
from crmsync.web.auth import Forbidden, SignInRequired, add_session_middleware, wants_json
from crmsync.web.views import STATIC_DIR, render


def install(app: FastAPI, rt: Runtime) -> None:
    app.state.signin_throttle = routes_auth.Throttle()
    app.include_router(routes_auth.router)
    app.include_router(routes_integrations.router)
    app.include_router(routes_logs.router)
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


__all__ = ["install"]
