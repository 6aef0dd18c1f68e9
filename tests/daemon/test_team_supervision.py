"""A declared ``[supervisors.NAME]`` keeps its agents when its parent restarts it."""

from __future__ import annotations

from typing import Any

import pytest

from letta_actors.daemon import Team, parse_config
from letta_actors.errors import ActorError

from ..helpers import wait_until
from .helpers import REPO

pytestmark = pytest.mark.anyio

POOL_TEAM = f"""
[team]
name = "pool-team"
python_path = ["{REPO}"]

[supervisors.pool]
intensity = {{ max_restarts = 0, period = 5 }}

[agents.worker]
kind = "python"
factory = "tests.daemon.actors:Crashing"
supervisor = "pool"

[agents.sibling]
kind = "python"
factory = "tests.daemon.actors:Echo"
supervisor = "pool"
"""


async def test_agents_of_a_declared_supervisor_are_back_after_it_is_restarted() -> None:
    async with Team(parse_config(POOL_TEAM), env={}) as team:
        system = team.system
        with pytest.raises(RuntimeError, match="asked to crash"):
            await system.ref("worker").ask("crash", timeout=5)

        # The pool gives up at once (no restart allowed), escalates, and the root restarts it.
        async def answers() -> list[Any] | None:
            try:
                return [await system.ref(name).ask(name, timeout=5) for name in names]
            except ActorError:  # not back yet (stopped, or not registered again)
                return None

        names = ("worker", "sibling")
        assert await wait_until(answers, timeout=10, what="the pool back") == ["worker", "sibling"]
        counts = {info.name: info.stats.restarts for info in system.actors()}
        assert counts == {"root": 0, "pool": 1, "worker": 0, "sibling": 0}  # the pool, once
