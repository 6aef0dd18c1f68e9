"""Pure ASGI middleware of the HTTP API: the bearer token (checked first, before any body is
read), the cap on requests in progress, and the request body's size limit and deadline.

Every refusal has the API's error shape ``{"error": code, "detail": ...}``.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths served without the token: liveness and readiness probes.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    data = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()), *headers],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": data})


class BodyLimit:
    """Answers 413 to a request whose body exceeds ``max_bytes`` (announced by
    ``Content-Length`` or counted while reading), and 408 to one whose body has not arrived
    in full within ``timeout`` seconds (a client promising more than it sends); the app sees
    only bodies within the limit, read in full."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = math.inf) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        too_large = {"error": "body_too_large", "detail": f"at most {self.max_bytes} bytes"}
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await send_json(send, 413, too_large)
                    return
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    await send_json(send, 413, too_large)
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            detail = f"the body did not arrive within {self.timeout:g} s"
            await send_json(send, 408, {"error": "request_timeout", "detail": detail},
                            ((b"connection", b"close"),))  # fmt: skip
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


#: Set in the scope by :class:`BearerAuth`: whether the request carried the valid token.
AUTHENTICATED = "letta_actors.authenticated"


class BearerAuth:
    """Requires ``Authorization: Bearer <token>`` on every path but :data:`OPEN_PATHS`
    (compared in constant time, before any of the body is read); 401 with
    ``WWW-Authenticate: Bearer`` otherwise, also when the header is given more than once.
    Open paths pass either way, with ``scope[AUTHENTICATED]`` telling which."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = [value for name, value in scope["headers"] if name.lower() == b"authorization"]
        valid = len(given) == 1 and hmac.compare_digest(given[0], self.expected)
        scope[AUTHENTICATED] = valid
        if not valid and scope["path"] not in OPEN_PATHS:
            body = {"error": "unauthorized", "detail": "one valid bearer token is required"}
            await send_json(send, 401, body, ((b"www-authenticate", b"Bearer"),))
            return
        await self.app(scope, receive, send)


class ConcurrencyLimit:
    """At most ``limit`` requests in progress at once (streams included); beyond, 503
    ``too_busy`` with ``Retry-After``. The probes (:data:`OPEN_PATHS`) are never refused."""

    def __init__(self, app: ASGIApp, limit: int, retry_after: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = str(retry_after).encode()
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.limit:
            body = {"error": "too_busy", "detail": f"{self.limit} requests in progress"}
            await send_json(send, 503, body, ((b"retry-after", self.retry_after),))
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1
