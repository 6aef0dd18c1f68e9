"""Bounded mailboxes: capacity, the four overflow policies, dead letters for drops."""

from __future__ import annotations

from typing import Any

import anyio
import pydantic
import pytest

from letta_actors import ActorSystem, DeadLetterReason, MailboxConfig, MailboxFull

from .helpers import Gate, gate_parts

pytestmark = pytest.mark.anyio


async def _blocked_gate(
    system: ActorSystem, overflow: str, capacity: int = 2
) -> tuple[anyio.Event, list[Any]]:
    """A Gate actor busy on "wait" with an empty mailbox of ``capacity``."""
    gate, entered, seen = gate_parts()
    ref = await system.spawn(
        lambda: Gate(gate, entered, seen),
        name="gate",
        mailbox=MailboxConfig(capacity=capacity, overflow=overflow),  # type: ignore[arg-type]
    )
    await ref.tell("wait")
    await entered.wait()
    return gate, seen


async def test_default_mailbox_is_bounded_and_blocks() -> None:
    config = MailboxConfig()
    assert config.capacity == 1000
    assert config.overflow == "block"


@pytest.mark.parametrize(
    "settings",
    [{"capacity": 0}, {"capacity": -5}, {"overflow": "explode"}, {"capacity": "many"}],
)
async def test_invalid_mailbox_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        MailboxConfig(**settings)


async def test_block_applies_backpressure_until_room() -> None:
    async with ActorSystem() as system:
        gate, seen = await _blocked_gate(system, "block")
        ref = system.ref("gate")
        await ref.tell(1)
        await ref.tell(2)
        sent_third = anyio.Event()

        async def third() -> None:
            await ref.tell(3)
            sent_third.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(third)
            await anyio.wait_all_tasks_blocked()
            assert not sent_third.is_set()  # mailbox full: the sender waits
            gate.set()
            await sent_third.wait()
        assert await ref.ask("end") == "end"
        assert seen == ["wait", 1, 2, 3, "end"]
        assert len(system.dead_letters) == 0


async def test_block_wait_is_cancellable_and_loses_nothing_silently() -> None:
    async with ActorSystem() as system:
        gate, seen = await _blocked_gate(system, "block", capacity=1)
        ref = system.ref("gate")
        await ref.tell(1)
        with anyio.move_on_after(0.05) as scope:
            await ref.tell(2)  # cannot be queued: the sender is told by the cancellation
        assert scope.cancelled_caught
        gate.set()
        assert await ref.ask("end") == "end"
        assert seen == ["wait", 1, "end"]


async def test_drop_newest_drops_the_new_message_into_dead_letters() -> None:
    async with ActorSystem() as system:
        gate, seen = await _blocked_gate(system, "drop_newest")
        ref = system.ref("gate")
        for i in range(4):
            await ref.tell(i)
        gate.set()
        await anyio.wait_all_tasks_blocked()  # the actor has drained its mailbox
        await ref.ask("end")
        assert seen == ["wait", 0, 1, "end"]
        dropped = system.dead_letters.by_reason(DeadLetterReason.DROPPED_NEWEST)
        assert [d.envelope.payload for d in dropped] == [2, 3]
        assert system.cell("gate").stats.dropped == 2  # type: ignore[union-attr]


async def test_drop_oldest_makes_room_by_dropping_the_oldest() -> None:
    async with ActorSystem() as system:
        gate, seen = await _blocked_gate(system, "drop_oldest")
        ref = system.ref("gate")
        for i in range(4):
            await ref.tell(i)
        gate.set()
        await anyio.wait_all_tasks_blocked()
        await ref.ask("end")
        assert seen == ["wait", 2, 3, "end"]
        dropped = system.dead_letters.by_reason(DeadLetterReason.DROPPED_OLDEST)
        assert [d.envelope.payload for d in dropped] == [0, 1]


async def test_dropped_ask_fails_at_once() -> None:
    async with ActorSystem() as system:
        gate, _ = await _blocked_gate(system, "drop_newest", capacity=1)
        ref = system.ref("gate")
        await ref.tell("filler")
        with pytest.raises(MailboxFull):
            await ref.ask("question", timeout=5)
        gate.set()


async def test_fail_policy_raises_mailbox_full_to_the_sender() -> None:
    async with ActorSystem() as system:
        gate, seen = await _blocked_gate(system, "fail")
        ref = system.ref("gate")
        await ref.tell(1)
        await ref.tell(2)
        with pytest.raises(MailboxFull, match="capacity 2"):
            await ref.tell(3)
        gate.set()
        await anyio.wait_all_tasks_blocked()
        await ref.ask("end")
        assert seen == ["wait", 1, 2, "end"]
