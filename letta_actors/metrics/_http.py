"""Serving an ASGI app over HTTP/1.1 with hypercorn, on the running backend (asyncio or Trio).

The standalone metrics endpoint and the daemon's API both go through :func:`serve_asgi`:
the caller binds the socket (:func:`listen`, so a busy port fails at the call and ``port=0``
gives the bound port at once), hypercorn parses HTTP and enforces the limits of
:class:`HttpLimits`. Stopping is always graceful: the listener closes, idle keep-alive
connections close, requests in progress get ``graceful_timeout`` seconds to finish (then they
are cancelled), and only then does :func:`serve_asgi` return, whether the stop came from
``shutdown_trigger`` or from cancelling the caller.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import sniffio
from hypercorn.config import Config

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclasses.dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one connection may cost the server.

    - ``max_head_bytes``: request line and headers together (hypercorn's
      ``h11_max_incomplete_size``); beyond it the answer is 431 and the connection closes,
      so neither many headers nor long ones get through.
    - ``idle_timeout``: seconds a connection may stay open without a request in progress:
      between keep-alive requests, and while the request head is still arriving (a slowloris
      client that never finishes its headers is closed after it).
    - ``graceful_timeout``: seconds requests in progress get to finish when the server stops.
    """

    max_head_bytes: int = 16 * 1024
    idle_timeout: float = 10.0
    graceful_timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.max_head_bytes < 1024:
            raise ValueError(f"max_head_bytes must be >= 1024, got {self.max_head_bytes!r}")
        for name in ("idle_timeout", "graceful_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")


#: The limits used when none are given.
DEFAULT_LIMITS = HttpLimits()


def listen(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (``port=0``: any free port).

    Raises ``OSError`` when the address cannot be bound (in use, not local...).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def _config(sock: socket.socket, limits: HttpLimits) -> Config:
    config = Config()
    # hypercorn takes over the file descriptor (and closes it when it stops).
    config.bind = [f"fd://{sock.detach()}"]
    config.h11_max_incomplete_size = limits.max_head_bytes
    config.h2_max_header_list_size = limits.max_head_bytes
    config.keep_alive_timeout = limits.idle_timeout
    config.graceful_timeout = limits.graceful_timeout
    config.accesslog = None
    config.errorlog = logging.getLogger("letta_actors.http")
    config.include_server_header = False
    return config


async def serve_asgi(
    app: ASGIApp,
    sock: socket.socket,
    *,
    limits: HttpLimits = DEFAULT_LIMITS,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Serve ``app`` on the listening ``sock`` (which it takes over) until ``shutdown_trigger``
    returns or the caller is cancelled; either way the stop is graceful (module docstring)."""
    config = _config(sock, limits)
    stop = anyio.Event()
    if sniffio.current_async_library() == "trio":
        from hypercorn.trio import serve
    else:
        from hypercorn.asyncio import serve  # type: ignore[assignment]

    async def run() -> None:
        # Shielded: a cancelled caller stops the server through ``stop``, so hypercorn always
        # runs its own graceful shutdown (bounded by ``graceful_timeout``).
        with anyio.CancelScope(shield=True):
            await serve(app, config, shutdown_trigger=stop.wait, mode="asgi")  # type: ignore[arg-type]

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            if shutdown_trigger is None:
                await anyio.sleep_forever()
            else:
                await shutdown_trigger()
        finally:
            stop.set()
