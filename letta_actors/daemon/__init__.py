"""The daemon: a team declared in a TOML file, run as a service with an HTTP API.

- :func:`load_config` / :class:`TeamConfig` / :class:`Team`: the team layer below the daemon
  (:mod:`letta_actors.team`, where an application embedding a team finds them), re-exported.
- :func:`create_app`: the team's HTTP API as an ASGI app (:mod:`.api`).
- ``letta-actors`` (:mod:`.cli`): ``run``, ``check``, ``send``, ``run-workflow``, ``status``, and
  the commands other packages add (``stack``, from :mod:`letta_actors.localstack`). See
  ``docs/daemon.md``.

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
