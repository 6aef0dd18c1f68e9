"""A team of actors declared in a file (TOML), run in-process: what an application embeds.

- :func:`load_config` / :func:`parse_config` / :class:`TeamConfig`: the team file, validated
  (every error at once, as :class:`ConfigError`).
- :class:`Team`: the running team: ``async with Team(config) as team:`` then :meth:`Team.ask`,
  :meth:`Team.tell`, :meth:`Team.start_run` (a declared workflow, tracked by a
  :class:`RunEntry`), :meth:`Team.actors`, :meth:`Team.readiness`.

This layer builds on the core, the integrations (Letta, metrics, tracing) and the patterns;
the daemon (:mod:`letta_actors.daemon`: HTTP API, console, CLI) is built on it, never the
reverse. See ``docs/embedding.md``.
"""

from .config import NODE_ENV, ClusterSection, LettaAgentConfig, PythonAgentConfig, TeamConfig
from .factories import letta_factory, python_factories
from .loader import ConfigError, ConfigIssue, load_config, parse_config
from .runs import RunEntry, RunStore
from .team import (
    Abandoned,
    NotAccepting,
    Team,
    UnknownAgent,
    UnknownName,
    UnknownWorkflow,
)
from .workflows import Workflow

__all__ = [
    "NODE_ENV",
    "Abandoned",
    "ClusterSection",
    "ConfigError",
    "ConfigIssue",
    "LettaAgentConfig",
    "NotAccepting",
    "PythonAgentConfig",
    "RunEntry",
    "RunStore",
    "Team",
    "TeamConfig",
    "UnknownAgent",
    "UnknownName",
    "UnknownWorkflow",
    "Workflow",
    "letta_factory",
    "load_config",
    "parse_config",
    "python_factories",
]
