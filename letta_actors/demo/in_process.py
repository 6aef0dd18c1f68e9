"""The in-process demo: a small content team of plain-Python actors.

An editor-in-chief asks a researcher, a writer and an editor in turn (a pipeline), while a
flaky fact-checker crashes on its first message and is restarted by its supervisor. The run
ends with what every actor did, and the dead letters. No Letta server needed:
``python -m letta_actors.demo.in_process``.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

import anyio

from .. import NO_BACKOFF, Actor, ActorSystem, ChildSpec, Supervisor


class Researcher(Actor):
    async def receive(self, message: Any) -> Any:
        return f"three facts about {message}"


class Writer(Actor):
    async def receive(self, message: Any) -> Any:
        return f"a draft built on {message}"


class Editor(Actor):
    async def receive(self, message: Any) -> Any:
        return f"a polished version of {message}"


class FactChecker(Actor):
    """Crashes on its first message ever (a flaky dependency); the new instance succeeds."""

    def __init__(self, history: list[str]) -> None:
        self.history = history  # outlives instances: owned by the supervisor's spec

    async def receive(self, message: Any) -> Any:
        self.history.append(message)
        if len(self.history) == 1:
            raise ConnectionError("fact database unreachable")
        return f"checked: {message}"


class EditorInChief(Actor):
    async def receive(self, message: Any) -> Any:
        facts = await self.ask("researcher", message)
        try:
            facts = await self.ask("fact-checker", facts)
        except ConnectionError as exc:
            print(f"  editor-in-chief: fact-checker failed ({exc}); asking again")
            facts = await self.ask("fact-checker", facts)
        draft = await self.ask("writer", facts)
        return await self.ask("editor", draft)


async def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  [%(levelname)s] %(message)s")
    team = [
        ChildSpec(factory=Researcher, name="researcher"),
        ChildSpec(factory=functools.partial(FactChecker, []), name="fact-checker"),
        ChildSpec(factory=Writer, name="writer"),
        ChildSpec(factory=Editor, name="editor"),
    ]
    async with ActorSystem(enforce_links=True) as system:
        for member in ("researcher", "fact-checker", "writer", "editor"):
            system.bus.link("editor-in-chief", member)
        await system.spawn(lambda: Supervisor(team, backoff=NO_BACKOFF), name="content-team")
        chief = await system.spawn(EditorInChief, name="editor-in-chief")
        print("letta-actors demo: an in-process content team\n")
        article = await chief.ask("actor runtimes", timeout=10)
        print(f"\n  result: {article}\n")
        await system.bus.tell("intern", "coffee?")  # nobody by that name: a dead letter

        print(f"  {'actor':<16} {'state':<9} {'processed':>9} {'failed':>6} {'restarts':>8}")
        for info in system.actors():
            s = info.stats
            print(
                f"  {info.name:<16} {info.state:<9} {s.processed:>9} {s.failed:>6} {s.restarts:>8}"
            )
        print("\n  dead letters:")
        for letter in system.dead_letters:
            error = f" ({letter.error_text})" if letter.error else ""
            print(f"    {letter.envelope.recipient}: {letter.reason}{error}")


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio")
