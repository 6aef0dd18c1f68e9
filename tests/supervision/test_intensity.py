"""Restart intensity, escalation, backoff pacing and redelivery."""

from __future__ import annotations

import functools
import random
from typing import Any

import anyio
import pydantic
import pytest

from letta_actors import (
    NO_BACKOFF,
    Actor,
    ActorState,
    ActorSystem,
    Backoff,
    ChildSpec,
    DeadLetterReason,
    Intensity,
    SupervisionEscalated,
    Supervisor,
)

from ..helpers import Boom, Echo
from .test_strategies import spec

pytestmark = pytest.mark.anyio


async def test_intensity_exceeded_stops_children_in_reverse_and_escalates_one_level() -> None:
    events: list[str] = []
    sub = functools.partial(
        Supervisor,
        [spec("a", events), spec("b", events), spec("c", events)],
        intensity=Intensity(max_restarts=2, period=60),
        backoff=NO_BACKOFF,
    )
    async with ActorSystem(intensity=Intensity(max_restarts=5, period=60)) as system:
        await system.spawn(sub, name="sub")
        for _ in range(2):  # two restarts are within the intensity
            with pytest.raises(Boom):
                await system.ref("b").ask("crash")
            await system.ref("b").ask("ping", timeout=5)
        events.clear()
        with pytest.raises(Boom):
            await system.ref("b").ask("crash")  # the third is one too many
        # The parent (root, one_for_one) restarts the sub-supervisor, which starts its
        # children afresh.
        await wait_until_restarted(system, "sub", restarts=1)
        assert events == [
            "stop b",  # crashed
            "stop c",
            "stop a",  # the sub-supervisor gives up: reverse order
            "start a",
            "start b",
            "start c",  # restarted by the root
        ]
        assert system.cell("sub").stats.escalations == 1  # type: ignore[union-attr]
        assert system.cell("sub").stats.restarts == 1  # type: ignore[union-attr]
        [info] = [c for c in await system.supervisor().which_children() if c.name == "sub"]
        assert info.supervisor and info.restarts == 1
        assert "SupervisionEscalated" in (info.last_error or "")


async def test_escalation_past_the_root_stops_the_system_naming_child_and_error() -> None:
    class Crasher(Actor):
        async def receive(self, message: Any) -> Any:
            raise Boom("the provider is down")

    reached_end_of_block = False
    with pytest.raises(SupervisionEscalated) as info:
        async with ActorSystem(intensity=Intensity(max_restarts=1, period=60)) as system:
            ref = await system.spawn(Crasher, name="flaky")
            for _ in range(2):
                await ref.tell("x")
            await anyio.sleep_forever()  # cancelled when the system fails
            reached_end_of_block = True
    assert not reached_end_of_block
    error = info.value
    assert error.child == "flaky"
    assert isinstance(error.last_error, Boom)
    assert "'flaky'" in str(error) and "the provider is down" in str(error)
    assert error.__cause__ is error.last_error


async def wait_until_restarted(system: ActorSystem, name: str, *, restarts: int) -> None:
    """Ask the root until ``name`` is running again after ``restarts`` restarts."""
    with anyio.fail_after(5):
        while True:
            info = {c.name: c for c in await system.supervisor().which_children()}[name]
            if info.restarts == restarts and info.state is ActorState.RUNNING:
                return


def test_backoff_delays_grow_exponentially_with_jitter_and_cap() -> None:
    backoff = Backoff(min_delay=0.1, max_delay=1.0, factor=2, jitter=0.0)
    assert [backoff.delay(n) for n in range(6)] == [0.0, 0.1, 0.2, 0.4, 0.8, 1.0]
    jittered = Backoff(min_delay=1.0, max_delay=100, factor=3, jitter=0.5)
    rng = random.Random(7)
    for n in range(1, 5):
        delay = jittered.delay(n, rng)
        base = 3 ** (n - 1)
        assert base * 0.5 <= delay <= base * 1.5
    assert NO_BACKOFF.delay(10) == 0.0


@pytest.mark.parametrize(
    "settings",
    [{"min_delay": -1}, {"factor": 0.5}, {"jitter": 2}, {"min_delay": 5, "max_delay": 1}],
)
def test_invalid_backoff_is_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        Backoff(**settings)


def test_invalid_intensity_and_spec_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        Intensity(max_restarts=-1)
    with pytest.raises(pydantic.ValidationError):
        Intensity(period=0)
    with pytest.raises(pydantic.ValidationError):
        ChildSpec(factory=Echo, name="")
    with pytest.raises(pydantic.ValidationError):
        ChildSpec(factory=Echo, name="x", restart="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duplicate child names: a"):
        Supervisor([ChildSpec(factory=Echo, name="a"), ChildSpec(factory=Echo, name="a")])


async def test_backoff_holds_the_restart_and_messages_wait_in_the_mailbox() -> None:
    """The second crash in a row waits out the backoff; queued messages survive it."""
    instances: list[int] = []

    class Fragile(Actor):
        def __init__(self) -> None:
            instances.append(len(instances) + 1)

        async def receive(self, message: Any) -> Any:
            if message == "crash":
                raise Boom
            return len(instances)

    backoff = Backoff(min_delay=3600, max_delay=3600, reset_after=3600)
    async with ActorSystem(backoff=backoff) as system:
        ref = await system.spawn(Fragile, name="f")
        await ref.tell("crash")  # first restart: immediate
        assert await ref.ask("n") == 2
        await ref.tell("crash")  # second in a row: an hour of backoff
        await ref.tell("queued")
        root = system.supervisor()
        with anyio.fail_after(5):
            while {c.name: c.state for c in await root.which_children()}["f"] is not (
                ActorState.RESTARTING
            ):
                pass
        assert len(system.cell("f").mailbox) == 1  # type: ignore[union-attr]
        await root.restart_child("f")  # an operator does not want to wait
        assert await ref.ask("n") == 3


async def test_told_message_is_redelivered_up_to_max_attempts_then_dead_lettered() -> None:
    attempts: list[int] = []

    class Flaky(Actor):
        async def receive(self, message: Any) -> Any:
            assert self.envelope is not None
            attempts.append(self.envelope.attempt)
            if message == "always fails":
                raise Boom("still broken")
            if message == "fails once" and self.envelope.attempt == 1:
                raise Boom("transient")
            return message

    async with ActorSystem(backoff=NO_BACKOFF, intensity=Intensity(max_restarts=10)) as system:
        ref = await system.spawn(Flaky, name="flaky", max_attempts=3)
        await ref.tell("fails once")
        await ref.ask("sync")
        assert attempts == [1, 2, 1]
        assert len(system.dead_letters) == 0
        attempts.clear()
        await ref.tell("always fails")
        await ref.ask("sync")
        assert attempts == [1, 2, 3, 1]
        [letter] = system.dead_letters.by_reason(DeadLetterReason.HANDLER_FAILED)
        assert letter.envelope.payload == "always fails"
        assert letter.error_text == "Boom: still broken"


async def test_asker_gets_the_crash_at_once_and_the_ask_is_not_redelivered() -> None:
    calls = 0

    class Crasher(Actor):
        async def receive(self, message: Any) -> Any:
            nonlocal calls
            calls += 1
            raise Boom("once")

    async with ActorSystem(backoff=NO_BACKOFF) as system:
        ref = await system.spawn(Crasher, name="c", max_attempts=5)
        with pytest.raises(Boom, match="once"):
            await ref.ask("q")
        assert calls == 1
