"""Assembles a running crmsync: runtime, migrations, task queue, API, embedded worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from crmsync.api.app import create_app
from crmsync.db.migrate import upgrade
from crmsync.engine.queue import (
    EmbeddedConsumer,
    TaskQueue,
    create_queue,
    start_embedded,
)
from crmsync.engine.runtime import Runtime
from crmsync.settings import Settings
from crmsync.web import install as install_web


@dataclass
class Service:
    app: FastAPI
    runtime: Runtime
    queue: TaskQueue
    consumer: EmbeddedConsumer | None = None


def create_product_app(rt: Runtime) -> FastAPI:
    """The host API with the admin UI (sign-in, Settings → Integrations, logs) beside it."""
    app = create_app(rt)
    install_web(app, rt)
    return app


def build_service(
    settings: Settings,
    embedded_worker: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Service:
    """The embedded default migrates its SQLite database itself; PostgreSQL deployments run
    ``crmsync db upgrade`` once per release instead."""
    rt = Runtime.from_settings(settings)
    rt.transport = transport
    if rt.db.engine.dialect.name == "sqlite":
        upgrade(settings.resolved_database_url)
    queue = create_queue(rt)
    app = create_product_app(rt)
    service = Service(app=app, runtime=rt, queue=queue)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if embedded_worker:
            service.consumer = start_embedded(queue, settings.worker_threads)
        try:
            yield
        finally:
            if service.consumer is not None:
                queue.sweeper.stop()
                service.consumer.stop(graceful=True)
            rt.db.dispose()

    app.router.lifespan_context = lifespan
    return service
