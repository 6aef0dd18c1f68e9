"""``SystemMetrics``: one actor system's registry, collector and endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Self

import anyio
import anyio.abc
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS

from ._collector import GroupOf, LabelMode, SystemCollector
from ._exposition import (
    MetricsApp,
    MetricsResponse,
    MetricsServer,
    make_asgi_app,
    render,
    serve_http,
)

if TYPE_CHECKING:
    from ..system import ActorSystem


class SystemMetrics:
    """Prometheus metrics of one :class:`~letta_actors.ActorSystem`.

    ``SystemMetrics(system)`` registers a scrape-time collector into a registry of its own
    (:attr:`registry`); ``register_default=True`` registers it into prometheus-client's default
    registry instead (for applications that already serve ``/metrics``), ``registry=`` into one
    you provide. ``labels="actor"`` (default) labels per-actor series by actor name;
    ``labels="group"`` by ``group_of(info)`` (default: the actor class), for systems with
    thousands of actors. Labels whose values come from code (topics, tools, statuses, groups,
    servers) keep at most ``max_label_values`` distinct values each; later ones are exported as
    ``__other__``. ``compress`` lets the endpoints gzip when the scraper accepts it.

    Serve with :meth:`serving` / :meth:`serve` (a standalone HTTP endpoint, loopback by
    default) or mount :meth:`asgi_app` in an ASGI application; both serve :attr:`registry`.
    :meth:`close` (or leaving ``with metrics:``) unregisters the collector.
    """

    def __init__(
        self,
        system: ActorSystem,
        *,
        labels: LabelMode = "actor",
        group_of: GroupOf | None = None,
        register_default: bool = False,
        registry: CollectorRegistry | None = None,
        max_label_values: int = 1000,
        compress: bool = True,
    ) -> None:
        if register_default and registry is not None:
            raise ValueError("pass either register_default=True or registry=, not both")
        self.system = system
        self.collector = SystemCollector(
            system, labels=labels, group_of=group_of, max_label_values=max_label_values
        )
        self.registry: CollectorRegistry = (
            REGISTRY if register_default else registry or CollectorRegistry()
        )
        self.compress = compress
        self.registry.register(self.collector)
        self._registered = True

    def close(self) -> None:
        """Unregister the collector from :attr:`registry` (idempotent)."""
        if self._registered:
            self._registered = False
            self.registry.unregister(self.collector)
            self.collector.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------

    def render(self, accept: str = "", accept_encoding: str = "") -> MetricsResponse:
        """Collect and encode the registry as an endpoint would for these request headers."""
        return render(self.registry, accept, accept_encoding, compress=self.compress)

    def scrape(self, *, openmetrics: bool = False) -> bytes:
        """The exposition text (``openmetrics=True``: the OpenMetrics format), uncompressed."""
        accept = OPENMETRICS if openmetrics else CONTENT_TYPE_PLAIN_0_0_4
        return render(self.registry, accept, compress=False).body

    # -- serving --------------------------------------------------------------------------

    def asgi_app(self, *, path: str = "/metrics") -> MetricsApp:
        """An ASGI app serving :attr:`registry`: ``Route("/metrics", metrics.asgi_app())`` /
        ``app.add_route(...)`` serve ``/metrics``, ``Mount("/metrics", ...)`` serves
        ``/metrics/``; other paths get 404 (see :class:`MetricsApp`)."""
        return make_asgi_app(self.registry, compress=self.compress, path=path)

    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        path: str = "/metrics",
        task_status: anyio.abc.TaskStatus[MetricsServer] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve :attr:`registry` on ``http://host:port/path`` until cancelled.

        Use ``server = await task_group.start(metrics.serve, host, port)`` to learn the bound
        port (``port=0`` picks a free one). Runs in the caller's event loop (asyncio or trio).
        """
        await serve_http(
            self.registry, host=host, port=port, path=path, compress=self.compress,
            task_status=task_status,
        )  # fmt: skip

    @asynccontextmanager
    async def serving(
        self, host: str = "127.0.0.1", port: int = 0, *, path: str = "/metrics"
    ) -> AsyncIterator[MetricsServer]:
        """``async with metrics.serving() as server:`` serves until the block ends."""
        async with anyio.create_task_group() as tg:
            server: MetricsServer = await tg.start(partial(self.serve, host, port, path=path))
            try:
                yield server
            finally:
                tg.cancel_scope.cancel()
