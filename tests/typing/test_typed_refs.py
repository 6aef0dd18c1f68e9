"""Typed actors and refs: what mypy infers (``assert_type``, checked by CI's mypy run) holds at
run time too (these tests also run, on both backends)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, assert_type

import pytest

from letta_actors import Actor, ActorRef, ActorSystem

pytestmark = pytest.mark.anyio


class Doubler(Actor[int, int]):
    async def receive(self, message: int) -> int:
        return message * 2


@dataclass(frozen=True)
class Greet:
    name: str


class Greeter(Actor[Greet, str]):
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    async def receive(self, message: Greet) -> str:
        return f"{self.greeting}, {message.name}"


class Untyped(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class PlusOne(Actor[int, int]):
    """Asks another typed actor by ref: the reply keeps its type inside an actor too."""

    def __init__(self, doubler: ActorRef[int, int]) -> None:
        self.doubler = doubler

    async def receive(self, message: int) -> int:
        doubled = await self.ask(self.doubler, message, timeout=5)
        assert_type(doubled, int)
        assert_type(self.ref, ActorRef[int, int])
        await self.tell(self.doubler, message)  # a typed tell by ref
        return doubled + 1


async def test_spawn_of_a_typed_actor_gives_a_typed_ref() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Doubler, name="doubler")
        assert_type(ref, ActorRef[int, int])
        reply = await ref.ask(21, timeout=5)
        assert_type(reply, int)
        assert reply == 42
        await ref.tell(1)


async def test_spawn_with_a_factory_callable_is_typed_after_what_it_returns() -> None:
    async with ActorSystem() as system:
        hello = await system.spawn(lambda: Greeter("Hello"), name="hello")
        assert_type(hello, ActorRef[Greet, str])
        hi = await system.spawn(functools.partial(Greeter, "Hi"), name="hi")
        assert_type(hi, ActorRef[Greet, str])
        assert await hello.ask(Greet("Ada"), timeout=5) == "Hello, Ada"
        assert await hi.ask(Greet("Alan"), timeout=5) == "Hi, Alan"


async def test_an_actor_asking_a_typed_ref_gets_the_reply_type() -> None:
    async with ActorSystem() as system:
        doubler = await system.spawn(Doubler, name="doubler")
        plus_one = await system.spawn(lambda: PlusOne(doubler), name="plus-one")
        assert_type(plus_one, ActorRef[int, int])
        assert await plus_one.ask(4, timeout=5) == 9


async def test_an_unparameterised_actor_and_refs_by_name_stay_any() -> None:
    async with ActorSystem() as system:
        untyped = await system.spawn(Untyped, name="untyped")
        assert_type(untyped, ActorRef[Any, Any])
        assert_type(await untyped.ask("anything", timeout=5), Any)
        await system.spawn(Doubler, name="doubler")
        by_name = system.ref("doubler")
        assert_type(by_name, ActorRef[Any, Any])
        assert_type(system.lookup("doubler"), ActorRef[Any, Any])
        typed: ActorRef[int, int] = system.ref("doubler")  # annotate to narrow a ref by name
        assert await typed.ask(5, timeout=5) == 10
        assert typed == by_name  # the type parameters are static only
