"""Run every plain-actor pattern in this process, then print what it ran and which Letta
modules got loaded (JSON on stdout). ``tests/patterns/test_no_letta_import.py`` runs it in a
fresh interpreter: ``python -m tests.patterns.plain_team <backend>``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import anyio

import letta_actors.patterns as patterns
from letta_actors import Actor, ActorSystem
from letta_actors.errors import ToolError

#: The Letta integration (before and after its move out of ``actors/``) and its client.
LETTA_MODULES = ("letta_actors.actors.letta", "letta_actors.letta", "letta_client")


class Upper(Actor[str, str]):
    async def receive(self, message: str) -> str:
        return message.upper()


class Desk(Actor[patterns.HandoffMessage, str]):
    """Tries an unlinked agent first (refused), then hands over to ``support``."""

    async def receive(self, message: patterns.HandoffMessage) -> str:
        with contextlib.suppress(ToolError):
            message.transfer("nobody", "not a session agent")
        message.transfer("support", "a technical question")
        return "over to support"


class Voter(Actor[patterns.BallotRequest, str]):
    async def receive(self, message: patterns.BallotRequest) -> str:
        message.vote("yes", f"{self.name} agrees")
        return "voted"


def loaded() -> list[str]:
    return sorted(m for m in sys.modules for p in LETTA_MODULES if m == p or m.startswith(p + "."))


async def main() -> dict[str, Any]:
    async with ActorSystem() as system:
        for name in ("a", "b", "support"):
            await system.spawn(Upper, name=name)
        await system.spawn(Desk, name="sales")
        for name in ("v1", "v2"):
            await system.spawn(Voter, name=name)
        stages = (patterns.Stage(name="one", actor="a"), patterns.Stage(name="two", actor="b"))
        pipeline = await patterns.Pipeline(system, patterns.PipelineSpec(stages=stages)).run("x")
        fan_out = await patterns.FanOut.of(system, [("1", "a", "p"), ("2", "b", "q")]).run()
        spec = patterns.HandoffSpec(agents=("sales", "support"), links=(("sales", "support"),))
        turn = await patterns.HandoffSession(system, spec).send("help", timeout=30)
        rules = patterns.VotingRules(options=("yes", "no"))
        ballot = patterns.ConsensusSpec(question="ok?", voters=("v1", "v2"), rules=rules)
        vote = await patterns.Consensus(system, ballot).run(timeout=30)
        health = await patterns.health_check(system)
        report = patterns.team_report(system)
    return {
        "pipeline": [pipeline.status, pipeline.output],
        "fan_out": [fan_out.status, fan_out.answers()],
        "handoff": [turn.status, turn.chain, [r.to_agent for r in turn.refused]],
        "consensus": [vote.status, vote.decision],
        "health": [health.healthy, len(health.agents)],
        "report": sorted(s.name for s in report.agents),
        "loaded": loaded(),
    }


if __name__ == "__main__":
    print(json.dumps(anyio.run(main, backend=sys.argv[1])))
