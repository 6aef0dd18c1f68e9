"""The daemon: a team declared in a TOML file, run as a service with an HTTP API.

- :func:`load_config` / :class:`TeamConfig`: the team file, validated (every error at once).
- :class:`Team`: the running team (also for embedding in an application).
- :func:`create_app`: its HTTP API as an ASGI app.
- ``letta-actors`` (:mod:`.cli`): ``run``, ``check``, ``send``, ``run-workflow``, ``status``,
  ``stack``. See ``docs/daemon.md``.

The HTTP API needs the ``daemon`` extra (FastAPI; served by hypercorn); the rest needs only
the core.
"""

from typing import TYPE_CHECKING

from ..team import (
    ConfigError,
    ConfigIssue,
    NotAccepting,
    Team,
    TeamConfig,
    UnknownName,
    load_config,
    parse_config,
)

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "NotAccepting",
    "Team",
    "TeamConfig",
    "UnknownName",
    "create_app",
    "load_config",
    "parse_config",
]

if TYPE_CHECKING:
    from .api import create_app


def __getattr__(name: str) -> object:
    if name == "create_app":
        from .api import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
