"""The factories of a team file's agents: Python ones imported from ``module:Callable`` with
their ``args`` bound, Letta ones built from their :class:`~letta_actors.letta.AgentSpec`
and options (an orchestrator, or an agent with the patterns' tools)."""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..actors import Actor
from ..letta import LettaAgent, LettaConnection
from ..patterns import PATTERN_TOOL_FACTORIES, OrchestratorAgent
from .config import PythonAgentConfig, TeamConfig
from .loader import ConfigError, ConfigIssue

ActorFactory = Callable[[], Actor]


def _import(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def _unbound(target: Any, args: Mapping[str, Any]) -> str | None:
    """Why ``target(**args)`` cannot be called, or None when the arguments fit."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None  # no signature to check (some builtins): the call will tell
    try:
        signature.bind(**args)
    except TypeError as exc:
        return f"args do not fit {signature}: {exc}"
    return None


def python_factories(config: TeamConfig, base_dir: Path | None = None) -> dict[str, ActorFactory]:
    """Import the factories of the Python agents (``python_path`` joined to ``base_dir``) and
    bind their ``args`` to their signatures; raises :class:`ConfigError` naming every agent
    whose factory cannot be imported, is not callable or does not take its ``args``."""
    for folder in config.team.python_path:
        resolved = str((base_dir or Path.cwd()) / folder)
        if resolved not in sys.path:
            sys.path.insert(0, resolved)
    factories: dict[str, ActorFactory] = {}
    issues: list[ConfigIssue] = []
    for name, agent in config.agents.items():
        if not isinstance(agent, PythonAgentConfig):
            continue
        try:
            target = _import(agent.factory)
        except Exception as exc:
            where = f"agents.{name}.factory"
            issues.append(ConfigIssue(where, f"cannot import {agent.factory!r}: {exc}"))
            continue
        if not callable(target):
            issues.append(ConfigIssue(f"agents.{name}.factory", "is not callable"))
            continue
        unbound = _unbound(target, agent.args)
        if unbound is not None:
            issues.append(ConfigIssue(f"agents.{name}.args", unbound))
            continue
        factories[name] = functools.partial(target, **agent.args)
    if issues:
        raise ConfigError("<team>", issues)
    return factories


def letta_factory(
    config: TeamConfig, name: str, connection: LettaConnection
) -> Callable[[], LettaAgent]:
    """The factory of the Letta agent declared as ``name``: its :class:`AgentSpec` and
    :class:`AgentOptions` from the file, an :class:`OrchestratorAgent` for ``role =
    "orchestrator"``, else a :class:`LettaAgent` with the patterns' tools."""
    agent = config.letta_agents()[name]
    spec = config.letta_spec(name)
    if agent.role == "orchestrator":
        return OrchestratorAgent.factory(spec, connection, options=agent.options)
    return LettaAgent.factory(
        spec, connection, options=agent.options, tool_factories=PATTERN_TOOL_FACTORIES
    )
