"""The ASGI app in Starlette/FastAPI routes: both documented ways serve the metrics, and only
the metrics path answers (docs/metrics.md, "ASGI app")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from letta_actors import ActorSystem
from letta_actors.metrics import MetricsApp, SystemMetrics

from .helpers import Worker, parse, value

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def metrics_of_one_message() -> AsyncIterator[SystemMetrics]:
    """A running system's metrics after actor ``a`` handled one message."""
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        await (await system.spawn(Worker, name="a")).ask("x", timeout=5)
        yield metrics


async def get(app: ASGIApp, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.get(path)


def served(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    return value(parse(response.content), "letta_actors_messages_received_total", actor="a") == 1


async def test_route_and_add_route_serve_exactly_the_path() -> None:
    async with metrics_of_one_message() as metrics:
        routed = Starlette(routes=[Route("/metrics", metrics.asgi_app())])
        added = Starlette()
        added.add_route("/metrics", metrics.asgi_app())  # type: ignore[arg-type]
        fastapi = FastAPI()
        fastapi.add_route("/metrics", metrics.asgi_app())  # type: ignore[arg-type]
        for app in (routed, added, fastapi):
            assert served(await get(app, "/metrics"))
            assert (await get(app, "/metrics/anything")).status_code == 404


async def test_mount_serves_the_mount_root_only() -> None:
    async with metrics_of_one_message() as metrics:
        app = Starlette(routes=[Mount("/metrics", metrics.asgi_app())])
        assert served(await get(app, "/metrics/"))
        redirect = await get(app, "/metrics")  # Starlette's own redirect to the mount root
        assert redirect.status_code == 307
        assert redirect.headers["location"] == "http://app/metrics/"
        assert (await get(app, "/metrics/anything")).status_code == 404
        assert (await get(app, "/metrics/metrics/x")).status_code == 404


async def test_a_route_inside_a_mounted_application_is_served() -> None:
    async with metrics_of_one_message() as metrics:
        inner = Starlette(routes=[Route("/metrics", metrics.asgi_app())])
        app = Starlette(routes=[Mount("/team", inner)])
        assert served(await get(app, "/team/metrics"))
        assert (await get(app, "/team/other")).status_code == 404


async def test_served_on_its_own_it_answers_root_and_path_only() -> None:
    async with metrics_of_one_message() as metrics:
        app = metrics.asgi_app()
        assert isinstance(app, MetricsApp)
        assert served(await get(app, "/"))
        assert served(await get(app, "/metrics"))
        assert (await get(app, "/other")).status_code == 404
        custom = metrics.asgi_app(path="/prom")
        assert served(await get(custom, "/prom"))
        assert (await get(custom, "/metrics")).status_code == 404
        with pytest.raises(ValueError, match="must start with '/'"):
            metrics.asgi_app(path="metrics")
