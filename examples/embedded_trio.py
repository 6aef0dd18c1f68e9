"""A team inside a Trio program: no daemon, no HTTP server of its own.

The team runs in the program's nursery; its metrics are served on a loopback port with the
anyio-based server of ``letta_actors.metrics`` (which runs on Trio too). Run:
``python examples/embedded_trio.py``.
"""

from __future__ import annotations

from typing import Any

import trio

from letta_actors import Actor
from letta_actors.team import Team, parse_config


class Reverser(Actor):
    async def receive(self, message: Any) -> Any:
        return str(message)[::-1]


TEAM = parse_config("""
[team]
name = "trio-team"
[agents.reverser]
kind = "python"
factory = "examples.embedded_trio:Reverser"
[workflows.twice]
kind = "pipeline"
stages = [{ name = "once", actor = "reverser" }, { name = "again", actor = "reverser" }]
""")


async def main() -> None:
    async with Team(TEAM, factories={"reverser": Reverser}) as team, trio.open_nursery() as nursery:
        assert team.metrics is not None
        server = await nursery.start(team.metrics.serve, "127.0.0.1", 0)
        print(f"metrics at {server.url}")
        print(await team.ask("reverser", "hello trio", timeout=5))
        run = team.start_run("twice", "round trip")
        await run.done.wait()
        assert run.record is not None
        print(run.status, run.record.model_dump()["output"])
        nursery.cancel_scope.cancel()  # stop serving metrics; leaving the team drains it


if __name__ == "__main__":
    trio.run(main)
