"""Nothing dies silently: stray cancellations crash one actor, fatal errors stop the system
with their cause, and errors reach askers and logs readably."""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from letta_actors import (
    Actor,
    ActorSystem,
    ChildSpec,
    Intensity,
    SupervisionEscalated,
    Supervisor,
    SystemStopped,
    UnexpectedCancellation,
)

from .helpers import Boom, Echo

pytestmark = pytest.mark.anyio


async def raise_a_stray_cancellation() -> None:
    """Raise a cancellation that no cancel scope around the caller requested."""
    if anyio.get_cancelled_exc_class() is asyncio.CancelledError:
        sub_task = asyncio.ensure_future(asyncio.sleep(10))
        sub_task.cancel()
        await sub_task  # raises CancelledError in this task, which nobody cancelled
    else:
        import trio

        # Trio's Cancelled has no public constructor: user code meets one only inside a scope
        # that was cancelled, unless it keeps one and raises it elsewhere, as here.
        raise trio.Cancelled._create(source="explicit")


class StrayCanceller(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "stray":
            await raise_a_stray_cancellation()
        return message


async def test_a_stray_cancellation_in_receive_is_a_crash_of_that_actor_only() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(StrayCanceller, name="worker")
        with pytest.raises(UnexpectedCancellation) as info:
            await ref.ask("stray")
        assert isinstance(info.value.__cause__, anyio.get_cancelled_exc_class())
        assert "'worker'" in str(info.value)
        with anyio.fail_after(5):
            assert await ref.ask("again") == "again"  # restarted by its supervisor
        [child] = await system.supervisor().which_children()
        assert (child.name, child.restarts) == ("worker", 1)
        assert system.running
        assert {info.name for info in system.actors()} == {"root", "worker"}


async def test_a_stray_cancellation_in_on_start_fails_the_spawn() -> None:
    class FailsToStart(Echo):
        async def on_start(self) -> None:
            await raise_a_stray_cancellation()

    async with ActorSystem() as system:
        with pytest.raises(UnexpectedCancellation):
            await system.spawn(FailsToStart, name="f")
        assert system.cell("f") is None
        assert system.running


async def test_a_failed_root_leaves_the_system_stopped_with_its_cause_for_others_to_see() -> None:
    class Crasher(Actor):
        async def receive(self, message: Any) -> Any:
            raise Boom("the provider is down")

    seen: list[tuple[BaseException | None, bool]] = []

    async def watch(system: ActorSystem, *, task_status: TaskStatus[None]) -> None:
        task_status.started()
        failure = await system.wait_stopped()
        seen.append((failure, system.running))

    async with anyio.create_task_group() as outside:  # e.g. the application's own tasks
        with pytest.raises(SupervisionEscalated) as info:
            async with ActorSystem(intensity=Intensity(max_restarts=0, period=60)) as system:
                await outside.start(watch, system)
                ref = await system.spawn(Crasher, name="flaky")
                await ref.tell("x")
                await anyio.sleep_forever()  # cancelled when the system fails
    assert seen == [(info.value, False)]
    assert system.failure is info.value and not system.running
    assert await system.wait_stopped() is info.value
    with pytest.raises(SystemStopped):
        await ref.tell("late")
    with pytest.raises(SystemStopped):
        await ref.ask("late")
    with pytest.raises(SystemStopped):
        await system.bus.publish("topic", "late")


async def test_a_clean_stop_has_no_failure() -> None:
    async with ActorSystem() as system:
        await system.spawn(Echo, name="e")
    assert system.failure is None
    assert await system.wait_stopped() is None


class FatalRaiser(Actor):
    async def receive(self, message: Any) -> Any:
        raise message


class Fatal(BaseException):
    """Neither an Exception nor a cancellation."""


@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit, Fatal])
async def test_a_fatal_error_in_an_actor_leaves_the_block_as_itself(
    fatal: type[BaseException],
) -> None:
    asker_got: list[BaseException] = []
    with pytest.raises(fatal) as info:
        async with ActorSystem() as system:
            ref = await system.spawn(FatalRaiser, name="f")
            try:
                await ref.ask(fatal("stop it"))
            except BaseException as exc:
                asker_got.append(exc)
                raise
    assert type(info.value) is fatal  # not an exception group around it
    assert system.failure is info.value and not system.running
    [error] = asker_got  # not a bare cancellation
    assert isinstance(error, SystemStopped)
    assert error.__cause__ is info.value


async def test_a_fatal_error_in_a_told_actor_cancels_the_block() -> None:
    with pytest.raises(KeyboardInterrupt):
        async with ActorSystem() as system:
            ref = await system.spawn(FatalRaiser, name="f")
            await ref.tell(KeyboardInterrupt())
            await anyio.sleep_forever()


async def test_a_fatal_error_in_on_start_leaves_the_block_as_itself() -> None:
    class Interrupted(Echo):
        async def on_start(self) -> None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        async with ActorSystem() as system:
            await system.spawn(Interrupted, name="i")


async def test_a_supervisor_child_failing_in_on_start_fails_the_spawn_with_its_error() -> None:
    class FailsToStart(Echo):
        async def on_start(self) -> None:
            raise Boom("no database")

    async with ActorSystem() as system:
        with pytest.raises(Boom, match="no database"):
            await system.spawn(
                lambda: Supervisor([ChildSpec(factory=FailsToStart, name="c")]), name="sup"
            )
        assert system.cell("sup") is None and system.cell("c") is None


# -- errors a person can read --------------------------------------------------------------


def frames(error: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(error.__traceback__)]


async def test_the_logged_crash_starts_in_the_actor_and_the_asker_can_except_its_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Crasher(Actor):
        async def receive(self, message: Any) -> Any:
            raise Boom("bad input")

    async with ActorSystem() as system:
        ref = await system.spawn(Crasher, name="crasher")
        with caplog.at_level(logging.ERROR, logger="letta_actors"), pytest.raises(Boom) as info:
            await ref.ask("x")
    asked = info.value
    assert frames(asked)[-1] == "receive"  # the asker's traceback goes down into the actor
    assert asked.__notes__ == ["raised by actor 'crasher' while handling an ask"]
    [record] = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert record.exc_info is not None
    logged = record.exc_info[1]
    assert logged is not None and logged is not asked
    logged_frames = frames(logged)
    assert logged_frames[-1] == "receive"
    assert not any("test_" in name for name in logged_frames)  # no asker frames
    assert "ask" not in logged_frames


async def test_the_same_exception_raised_again_carries_one_note() -> None:
    error = Boom("always the same")

    class Repeater(Actor):
        restart_on_error = False

        async def receive(self, message: Any) -> Any:
            raise error

    async with ActorSystem() as system:
        ref = await system.spawn(Repeater, name="r")
        for _ in range(3):
            with pytest.raises(Boom) as info:
                await ref.ask("x")
            assert info.value.__notes__ == ["raised by actor 'r' while handling an ask"]
    assert getattr(error, "__notes__", []) == []


async def test_an_exception_that_cannot_be_copied_still_reaches_the_asker() -> None:
    class Picky(Exception):
        def __init__(self, code: int, *, detail: str) -> None:
            super().__init__(f"{code}: {detail}")
            self.code = code

    class Raiser(Actor):
        async def receive(self, message: Any) -> Any:
            raise Picky(7, detail="odd constructor")

    async with ActorSystem() as system:
        ref = await system.spawn(Raiser, name="p")
        with pytest.raises(Picky) as info:
            await ref.ask("x")
    assert info.value.code == 7 and str(info.value) == "7: odd constructor"
