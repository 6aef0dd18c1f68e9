"""The node's connection to NATS: refusals at start, bounded first connect, payload check.

nats-py is asyncio-only: :meth:`ClusterConnection.open` refuses any other event loop at once.
The first connection must succeed within ``connect_timeout`` or :class:`ClusterUnreachable`
names the URLs and the errors seen (nats-py alone would keep retrying); once connected, a
lost connection is retried forever every ``reconnect_wait`` seconds, by nats-py, in the
background. While it is down, requests fail with nats-py's timeout or connection errors.

With several URLs (a NATS cluster), nats-py tries them in turn (in random order unless
``nats_url_order = "listed"``), each attempt bounded by ``connect_timeout`` divided by their
number (at least 1 s) so that one server that hangs leaves time for the others; a lost
connection moves to another server, including those the cluster announced in its INFO. With
``tls`` options, a first connection left in plaintext is refused; a reconnection left in
plaintext (a server of the list without TLS) is logged as an error, nats-py having connected.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import anyio
import sniffio
from nats.aio.client import Client
from nats.js import JetStreamContext

from ._errors import ClusterConfigError, ClusterUnreachable, PayloadTooLarge
from ._settings import ClusterSettings

log = logging.getLogger("letta_actors.cluster")


def require_asyncio() -> None:
    """Raise :class:`ClusterConfigError` unless running on asyncio."""
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        library = "no event loop"
    if library != "asyncio":
        raise ClusterConfigError(
            f"cluster mode needs asyncio: nats-py is asyncio-only (running on {library})"
        )


def _encrypted(client: Client, settings: ClusterSettings) -> bool:
    """Whether nats-py upgraded this connection to TLS: over ``wss://`` or with
    ``handshake_first`` it always does; otherwise only if the server's INFO required TLS
    (nats-py keeps that INFO in a private attribute; there is no public one)."""
    assert settings.tls is not None
    url = client.connected_url
    if settings.tls.handshake_first or (url is not None and url.scheme == "wss"):
        return True
    info: dict[str, object] = getattr(client, "_server_info", {})
    return bool(info.get("tls_required"))


class ClusterConnection:
    """A connected nats-py client and its JetStream context, for one node.

    Use ``async with await ClusterConnection.open(settings) as conn`` or call :meth:`close`.
    """

    def __init__(self, settings: ClusterSettings, client: Client) -> None:
        self.settings = settings
        self.client = client
        self.js: JetStreamContext = client.jetstream()

    @classmethod
    async def open(
        cls, settings: ClusterSettings, *, environ: Mapping[str, str] | None = None
    ) -> Self:
        """Connect, or raise: :class:`ClusterConfigError` (not asyncio, a credential variable
        unset, TLS configured but the server left the connection in plaintext),
        :class:`ClusterUnreachable` (no connection within ``connect_timeout``: refused,
        authorization violation, TLS verification failed...: the errors seen are in the message).
        """
        require_asyncio()
        options: dict[str, Any] = settings.credentials(environ)
        if settings.tls is not None:
            options["tls"] = settings.tls.context()
            options["tls_handshake_first"] = settings.tls.handshake_first
            if settings.tls.hostname:
                options["tls_hostname"] = settings.tls.hostname
        errors: dict[str, None] = {}  # the distinct errors seen while connecting, in order

        async def on_error(exc: Exception) -> None:
            errors[f"{type(exc).__name__}: {exc}".rstrip(": ")] = None
            log.debug("nats error (%s): %s", settings.node, exc)

        async def on_disconnected() -> None:
            if client.is_closed:  # closed on purpose
                return
            log.warning("node %s lost its NATS connection; reconnecting", settings.node)

        async def on_reconnected() -> None:
            url = client.connected_url
            where = url.geturl() if url is not None else "?"
            if settings.tls is not None and not _encrypted(client, settings):
                # Too late to refuse (nats-py has connected): say it loudly instead.
                log.error(
                    "node %s reconnected to NATS at %s in PLAINTEXT although tls options are "
                    "set: configure TLS on that server",
                    settings.node,
                    where,
                )
            else:
                log.info("node %s reconnected to NATS at %s", settings.node, where)

        urls = settings.nats_urls
        # One attempt's bound (nats-py takes a float, though typed int): a server that hangs
        # leaves the others time within connect_timeout.
        per_attempt = max(1.0, settings.connect_timeout / len(urls))
        client = Client()
        try:
            with anyio.fail_after(settings.connect_timeout):
                await client.connect(
                    servers=list(urls),
                    dont_randomize=settings.nats_url_order == "listed",
                    name=f"letta-actors:{settings.node}",
                    connect_timeout=per_attempt,  # type: ignore[arg-type]
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=settings.reconnect_wait,  # type: ignore[arg-type]
                    error_cb=on_error,
                    disconnected_cb=on_disconnected,
                    reconnected_cb=on_reconnected,
                    **options,
                )
        except TimeoutError:
            await client.close()
            cause = "; ".join(list(errors)[: max(3, len(urls))]) or None
            raise ClusterUnreachable(", ".join(urls), settings.connect_timeout, cause) from None
        if settings.tls is not None and not _encrypted(client, settings):
            url = client.connected_url
            await client.close()
            raise ClusterConfigError(
                f"tls options are set but NATS at {url.geturl() if url else urls[0]} did not "
                "ask for TLS: refusing a plaintext connection (configure TLS on the server)"
            )
        return cls(settings, client)

    @property
    def max_payload(self) -> int:
        """The largest message the server accepts, in bytes (from its INFO)."""
        return self.client.max_payload

    @property
    def is_connected(self) -> bool:
        """Whether the client is connected right now (False while reconnecting)."""
        return self.client.is_connected

    def check_payload(self, size: int) -> None:
        """Raise :class:`PayloadTooLarge` if ``size`` bytes exceed the server's max payload.

        Call it before publishing: nothing is sent for a refused message. ``size`` counts the
        payload only; leave room for headers in what you pass (they count on the wire too).
        """
        if size > self.max_payload:
            raise PayloadTooLarge(size, self.max_payload)

    async def close(self) -> None:
        """Flush and close the connection (idempotent)."""
        if not self.client.is_closed:
            await self.client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
