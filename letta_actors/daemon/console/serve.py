"""Serving the console's static pages at ``/ui`` (no token: they hold no data)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from ..middleware import ASGIApp, Message, Receive, Scope, Send, send_json
from .routes import router

if TYPE_CHECKING:
    from fastapi import FastAPI

#: The console's HTML, CSS, JavaScript and vendored Mermaid (shipped in the package).
STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/ui"
#: Scripts and styles from the daemon only; Mermaid puts inline styles in its SVGs.
_SECURITY = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
]  # fmt: skip


class ConsoleStatic:
    """Serves ``/ui`` (redirected to ``/ui/``) and the files under it from :data:`STATIC_DIR`,
    with a strict content security policy (404 for anything else under ``/ui``, including a
    path that leaves the folder); every other path goes to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.files = StaticFiles(directory=STATIC_DIR, html=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        if path == PREFIX:
            await send(
                {
                    "type": "http.response.start",
                    "status": 308,
                    "headers": [(b"location", b"/ui/"), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})  # fmt: skip
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY]
            await send(message)

        try:
            await self.files({**scope, "root_path": PREFIX}, receive, secured)
        except HTTPException as exc:  # raised before anything was sent
            code = "not_found" if exc.status_code == 404 else "method_not_allowed"
            await send_json(send, exc.status_code, {"error": code, "detail": path})


def mount_console(api: FastAPI, app: ASGIApp) -> ASGIApp:
    """Add the console's data routes to ``api`` (so they sit behind whatever guards ``app``,
    the token included) and serve the static pages in front of ``app``."""
    api.include_router(router)
    return ConsoleStatic(app)
