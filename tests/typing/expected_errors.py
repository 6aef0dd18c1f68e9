"""Calls mypy must refuse: every line marked ``# error: <code>`` must be reported with that
error code, and no other line may be (``test_expected_errors.py`` runs mypy on this file).

Excluded from the project's own mypy run (``[tool.mypy] exclude``); never imported.
"""

from __future__ import annotations

from letta_actors import Actor, ActorRef, ActorSystem

from .test_typed_refs import Doubler, Greet, Greeter


async def wrong_messages(system: ActorSystem) -> None:
    doubler = await system.spawn(Doubler)
    await doubler.tell("two")  # error: arg-type
    await doubler.ask("two")  # error: arg-type
    greeter = await system.spawn(lambda: Greeter("Hi"))
    await greeter.ask(Greet)  # error: arg-type
    await greeter.tell(3)  # error: arg-type


async def wrong_replies(system: ActorSystem) -> None:
    doubler = await system.spawn(Doubler)
    text: str = await doubler.ask(2)  # error: assignment
    greeter = await system.spawn(lambda: Greeter("Hi"))
    number: int = await greeter.ask(Greet("Ada"))  # error: assignment
    print(text, number)


async def wrong_refs(system: ActorSystem) -> None:
    as_strings: ActorRef[str, int] = await system.spawn(Doubler)  # error: arg-type
    await system.spawn(Greeter)  # error: arg-type
    print(as_strings)


class WrongMessageType(Actor[int, int]):
    async def receive(self, message: str) -> int:  # error: override
        return len(message)


class WrongReplyType(Actor[int, int]):
    async def receive(self, message: int) -> str:  # error: override
        return str(message)


class TellsWrongly(Actor[int, int]):
    def __init__(self, doubler: ActorRef[int, int]) -> None:
        self.doubler = doubler

    async def receive(self, message: int) -> int:
        await self.tell(self.doubler, "x")  # error: misc
        text: str = await self.ask(self.doubler, message)  # error: arg-type
        return len(text)
