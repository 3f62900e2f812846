"""``crmsync``: serve, work, emulate, migrate, manage keys and users, run the demo."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from crmsync.settings import get_settings, new_api_key

if TYPE_CHECKING:  # the session type only: the CLI imports the database when a command runs
    from sqlalchemy.orm import Session

T = TypeVar("T")

# authlib's httpx integration announces a successor package at import; not actionable here.
warnings.filterwarnings("ignore", message=".*httpx2.*")

app = typer.Typer(help="Keeps an application's people in sync with its customers' CRMs.")
db_app = typer.Typer(help="Database migrations.")
apikey_app = typer.Typer(help="Host API keys.")
user_app = typer.Typer(help="Organisation users who sign in to the admin UI.")
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")
app.add_typer(user_app, name="user")
console = Console()


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Only serve the API; run `crmsync worker`s.")
    ] = False,
) -> None:
    """Serve the API, with an in-process worker unless --no-worker."""
    import uvicorn

    from crmsync.service import build_service
    from crmsync.tuning import settle_heap

    service = build_service(get_settings(), embedded_worker=not no_worker)
    settle_heap()
    uvicorn.run(service.app, host=host, port=port)


@app.command()
def worker(
    threads: int = 0,
    metrics_port: Annotated[
        int, typer.Option(help="Serve Prometheus metrics on this port (0: off).")
    ] = 0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Process sync work from the task queue (Redis in scale-out mode)."""
    import logging

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from prometheus_client import start_http_server

    from crmsync.engine.queue import WorkerConsumer, create_queue
    from crmsync.engine.runtime import Runtime
    from crmsync.metrics import registry_for
    from crmsync.tuning import settle_heap

    settings = get_settings()
    rt = Runtime.from_settings(settings)
    queue = create_queue(rt)
    if metrics_port:
        start_http_server(
            metrics_port, addr="127.0.0.1", registry=registry_for(rt.db, rt.calls, rt.sync_latency)
        )
    workers = threads or settings.worker_threads
    console.print(f"crmsync worker: {workers} threads on {type(queue.huey).__name__}")
    queue.sweeper.start()
    # graceful on SIGTERM: a run yields within run_seconds, then finishes its batch in flight
    timeout = settings.run_seconds + settings.http_timeout_seconds + 10
    settle_heap()
    WorkerConsumer(queue, workers=workers, shutdown_timeout=timeout).run()


@app.command()
def emulate(
    provider: str,
    port: int = 8101,
    host: str = "127.0.0.1",
    no_rate_limit: Annotated[bool, typer.Option("--no-rate-limit")] = False,
    user: Annotated[
        list[str] | None, typer.Option(help="A CRM user to seed, as email:first:last.")
    ] = None,
) -> None:
    """Serve a CRM emulator (its real REST API, OAuth pages, /_emulator/ controls).

    The first line printed is JSON: the settings that point crmsync at this emulator.
    """
    import json

    import uvicorn

    from crmsync.emulation.record_page import emulated_record_url
    from crmsync.providers.catalog import BUILTIN
    from crmsync.providers.emulators import emulator, name_requesting_app

    harness = emulator(provider)(served=True, rate_limited=not no_rate_limit)
    name_requesting_app(harness, get_settings().app_name)
    [spec] = [p.connector.spec for p in BUILTIN if p.name == provider]
    for entry in user or []:
        email, first, last = [*entry.split(":"), "", ""][:3]
        harness.add_user(email, first, last)
    base = f"http://{host}:{port}"
    settings = {
        **harness.settings_for(base),
        "record_url": emulated_record_url(spec.record_url, base),
    }
    print(json.dumps({"provider": provider, "base_url": base, "settings": settings}), flush=True)
    uvicorn.run(harness.app, host=host, port=port, log_level="warning")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations to the configured database."""
    from crmsync.db.migrate import upgrade

    settings = get_settings()
    upgrade(settings.resolved_database_url, revision)
    console.print(f"database at {revision}: {settings.resolved_database_url.split('@')[-1]}")


@apikey_app.command("create")
def apikey_create(name: str = "host") -> None:
    """Create a host API key; it is shown once, only its hash is stored."""
    from crmsync.api.deps import hash_key
    from crmsync.db.migrate import upgrade
    from crmsync.db.session import Database
    from crmsync.db.tables import ApiKey

    settings = get_settings()
    upgrade(settings.resolved_database_url)
    key = new_api_key()
    db = Database(settings.resolved_database_url)
    with db.session() as session:
        session.add(ApiKey(name=name, key_hash=hash_key(key)))
    console.print(key)


@user_app.command("create")
def user_create(
    org: Annotated[str, typer.Option(help="The organisation's id.")],
    email: Annotated[str, typer.Option(help="Their sign-in email.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="At least 8 characters; asked for when not given.",
        ),
    ],
    role: Annotated[str, typer.Option(help="admin (may change things) or member.")] = "member",
    name: str = "",
    user_id: Annotated[str | None, typer.Option("--id", help="Default: generated.")] = None,
) -> None:
    """Create a user of an organisation; they sign in to the admin UI (password hashed)."""
    from crmsync.api.schemas import UserIn
    from crmsync.services.orgs import create_user

    data = _validated(
        lambda: UserIn(id=user_id, email=email, name=name, role=role, password=password).command()
    )

    def create(session: Session) -> str:
        user = create_user(session, org, data)
        return f"{user.role} {user.email} (id {user.id}) in organisation {user.org_id}"

    console.print(f"created {_on_database(create)}")


Org = Annotated[str, typer.Option(help="The organisation's id.")]
Email = Annotated[str, typer.Option(help="Their sign-in email.")]


@user_app.command("set-password")
def user_set_password(
    org: Org,
    email: Email,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="At least 8 characters; asked for when not given.",
        ),
    ],
) -> None:
    """Set a user's password; their browser sessions end (they sign in again)."""
    _change_user(org, email, {"password": password}, "new password set for")


@user_app.command("disable")
def user_disable(org: Org, email: Email) -> None:
    """Disable a user: signed out everywhere, and sign-in is refused until enabled again."""
    _change_user(org, email, {"disabled": True}, "disabled")


@user_app.command("enable")
def user_enable(org: Org, email: Email) -> None:
    """Let a disabled user sign in again."""
    _change_user(org, email, {"disabled": False}, "enabled")


def _change_user(org: str, email: str, change: dict[str, object], done: str) -> None:
    """Applies ``change`` (a ``UserPatch``) to the org's user with this email, as the host
    API's ``PATCH /api/v1/orgs/{org}/users/{id}`` does."""
    from crmsync.api.schemas import UserPatch
    from crmsync.services.orgs import find_user, update_user

    data = _validated(lambda: UserPatch.model_validate(change).command())

    def apply(session: Session) -> str:
        user = update_user(session, find_user(session, org, email), data)
        return f"{user.email} (id {user.id}) in organisation {user.org_id}"

    console.print(f"{done} {_on_database(apply)}")


def _validated(build: Callable[[], T]) -> T:
    """The command's input, checked by its schema, or its problems printed and exit status 2."""
    from pydantic import ValidationError

    try:
        return build()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        console.print(f"[red]{problems}[/]")
        raise typer.Exit(2) from None


def _on_database(work: Callable[[Session], str]) -> str:
    """Run ``work`` in one transaction on the configured database (migrated first); refused
    input is printed with exit status 1."""
    from crmsync.db.migrate import upgrade
    from crmsync.db.session import Database
    from crmsync.errors import InputError

    url = get_settings().resolved_database_url
    upgrade(url)
    db = Database(url)
    try:
        with db.session() as session:
            return work(session)
    except InputError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    finally:
        db.dispose()


@app.command()
def demo(
    once: Annotated[
        bool, typer.Option("--once", help="Run the flow, print a summary and exit.")
    ] = False,
    people: int = 300,
    port: int = 8000,
    emulator_port: int = 8101,
) -> None:
    """Seed a demo org, connect it to the emulated HubSpot and sync a few hundred people."""
    from crmsync.cli.demo import run_demo

    raise typer.Exit(run_demo(once=once, people=people, port=port, emulator_port=emulator_port))


if __name__ == "__main__":
    app()
