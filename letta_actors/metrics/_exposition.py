"""Serving a registry: content negotiation, an ASGI app and a standalone HTTP endpoint
(the ASGI app served by hypercorn, see :mod:`._http`).

Both endpoints go through :func:`respond`: the registry is *collected* in the calling task
(the event loop that runs the actor system, so reading the runtime's counters never races
with the actors; the actor systems' collectors are first refreshed a chunk of actors at a
time, letting the loop run between chunks), then the collected families are *encoded* (text
or OpenMetrics, chosen from the ``Accept`` header by prometheus-client's ``choose_encoder``)
and optionally gzipped in a worker thread, so a large scrape does not stall the loop in one
block.
"""

from __future__ import annotations

import dataclasses
import gzip

import anyio
import anyio.abc
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ._collector import SystemCollector
from ._family import Family, encode
from ._http import DEFAULT_LIMITS, ASGIApp, HttpLimits, Receive, Scope, Send, listen, serve_asgi

#: Bodies smaller than this are encoded and compressed in the loop (a thread hop costs more).
_THREAD_THRESHOLD = 64 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class MetricsResponse:
    """An HTTP response for a scrape: status, headers and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


def _encode(
    families: list[Metric], accept: str, accept_encoding: str, compress: bool
) -> tuple[tuple[tuple[str, str], ...], bytes]:
    encoder, content_type = choose_encoder(accept)
    body = encode(families, encoder, content_type.startswith("application/openmetrics-text"))
    headers: list[tuple[str, str]] = [("Content-Type", content_type)]
    if compress and gzip_accepted(accept_encoding):
        body = gzip.compress(body, compresslevel=1)
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Vary", "Accept, Accept-Encoding"))
    return tuple(headers), body


def render(
    registry: Collector, accept: str = "", accept_encoding: str = "", *, compress: bool = True
) -> MetricsResponse:
    """Collect ``registry`` and encode it for a client sending these headers (synchronous)."""
    families = list(registry.collect())
    headers, body = _encode(families, accept, accept_encoding, compress)
    return MetricsResponse(200, headers, body)


async def respond(
    registry: Collector,
    method: str,
    accept: str = "",
    accept_encoding: str = "",
    *,
    compress: bool = True,
) -> MetricsResponse:
    """The response to ``method`` on the metrics path: collect here, encode off the loop."""
    if method == "OPTIONS":
        return MetricsResponse(200, (("Allow", "GET, HEAD, OPTIONS"),), b"")
    if method not in ("GET", "HEAD"):
        return MetricsResponse(
            405, (("Allow", "GET, HEAD, OPTIONS"), ("Content-Type", "text/plain")),
            b"use GET\n",
        )  # fmt: skip
    refreshed = _system_collectors(registry)
    try:
        for collector in refreshed:
            await collector.refresh()
        families = list(registry.collect())
    except BaseException:
        for collector in refreshed:
            collector.discard()
        raise
    size = sum(m.size() if isinstance(m, Family) else len(m.samples) for m in families)
    if size * 64 < _THREAD_THRESHOLD:
        headers, body = _encode(families, accept, accept_encoding, compress)
    else:
        headers, body = await anyio.to_thread.run_sync(
            _encode, families, accept, accept_encoding, compress
        )
    return MetricsResponse(200, headers, b"" if method == "HEAD" else body)


def _system_collectors(registry: Collector) -> list[SystemCollector]:
    """The actor systems' collectors that ``registry`` collects (refreshed before a scrape)."""
    if isinstance(registry, SystemCollector):
        return [registry]
    if isinstance(registry, CollectorRegistry):
        # prometheus-client has no public listing of a registry's collectors
        with registry._lock:
            collectors = list(registry._collector_to_names)
        return [c for c in collectors if isinstance(c, SystemCollector)]
    return []


# -- ASGI ---------------------------------------------------------------------------------


class MetricsApp:
    """A pure ASGI app (no framework needed) serving ``registry``.

    It answers ``http`` requests (GET, HEAD, OPTIONS; 405 for other methods) for ``path`` and
    for the root of wherever it is mounted, 404 for any other path, and the ``lifespan``
    protocol. Paths are taken relative to the scope's ``root_path``. So, in Starlette or FastAPI:

    - ``Route("/metrics", app)`` or ``app.add_route("/metrics", app)`` serves exactly
      ``/metrics`` (it is an object, not a function, so Starlette calls it as an ASGI app);
    - ``Mount("/metrics", app)`` serves ``/metrics/`` (Starlette itself redirects ``/metrics``
      there with a 307) and answers 404 for ``/metrics/anything``;
    - served on its own (``uvicorn``), it answers ``/`` and ``path``.
    """

    __slots__ = ("compress", "path", "registry")

    def __init__(self, registry: Collector, *, compress: bool = True, path: str = "/metrics"):
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        self.registry = registry
        self.compress = compress
        self.path = path

    def serves(self, scope: Scope) -> bool:
        """Whether the request's path (relative to ``root_path``) is one this app answers."""
        path: str = scope.get("path", "/")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return path in ("", "/", self.path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            raise RuntimeError(f"the metrics app serves HTTP, not {kind!r}")
        if not self.serves(scope):
            response = MetricsResponse(404, (("Content-Type", "text/plain"),), b"not found\n")
        else:
            accept: list[str] = []
            encodings: list[str] = []
            for raw_name, raw_value in scope.get("headers", ()):
                name = raw_name.decode("latin-1").lower()
                if name == "accept":
                    accept.append(raw_value.decode("latin-1"))
                elif name == "accept-encoding":
                    encodings.append(raw_value.decode("latin-1"))
            response = await respond(
                self.registry, scope.get("method", "GET"), ",".join(accept), ",".join(encodings),
                compress=self.compress,
            )  # fmt: skip
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def make_asgi_app(
    registry: Collector, *, compress: bool = True, path: str = "/metrics"
) -> MetricsApp:
    """A :class:`MetricsApp` serving ``registry`` (see there for the paths it answers)."""
    return MetricsApp(registry, compress=compress, path=path)


# -- the standalone endpoint --------------------------------------------------------------


def make_path_app(app: ASGIApp, path: str) -> ASGIApp:
    """``app`` on ``path`` only: any other path answers 404 (what a standalone listener
    serves); ``lifespan`` and other scopes go to ``app``."""
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path!r}")

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") != path:
            body = b"not found\n"
            await send({
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())],
            })  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return routed


@dataclasses.dataclass(frozen=True, slots=True)
class MetricsServer:
    """Where a standalone metrics endpoint listens."""

    host: str
    port: int
    path: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"


async def serve_http(
    registry: Collector,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    path: str = "/metrics",
    compress: bool = True,
    limits: HttpLimits = DEFAULT_LIMITS,
    task_status: anyio.abc.TaskStatus[MetricsServer] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``registry`` over HTTP/1.1 on ``host:port`` until cancelled (hypercorn, on the
    running backend: asyncio or Trio).

    ``task_status.started()`` receives the :class:`MetricsServer` with the bound port (useful
    with ``port=0``); a port that cannot be bound raises ``OSError`` before that. Only
    ``path`` serves metrics (404 elsewhere). Connections are kept alive as Prometheus expects;
    ``limits`` bound request heads and idle connections. Cancelling stops it gracefully.
    """
    app = make_path_app(make_asgi_app(registry, compress=compress, path=path), path)
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    task_status.started(MetricsServer(host, bound, path))
    await serve_asgi(app, sock, limits=limits)
