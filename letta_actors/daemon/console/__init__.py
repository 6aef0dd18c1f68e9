"""The daemon's web console: static pages at ``/ui`` and the live data they read.

``mount_console(api, app)`` adds the console's data routes (``/v1/console/...``, behind the
same bearer token as the rest of the API) to ``api`` and returns ``app`` wrapped so that the
static pages under ``/ui`` are served without a token (they hold no data: the page asks for the
token and sends it with every data call). See ``docs/console.md``.
"""

from __future__ import annotations

from .routes import router
from .serve import STATIC_DIR, ConsoleStatic, mount_console

__all__ = ["STATIC_DIR", "ConsoleStatic", "mount_console", "router"]
