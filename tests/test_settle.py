"""``Mailbox.settle``: the cell settles every envelope it took exactly once, when done with it
(handled, replied, failed for good, skipped, dead-lettered), never a redelivered one twice."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest

from letta_actors import (
    Actor,
    ActorStopped,
    ActorSystem,
    AskTimeout,
    DeadLetterReason,
    Envelope,
    Intensity,
)
from letta_actors.actors import Mailbox

from .helpers import Boom

pytestmark = pytest.mark.anyio


def recording(settled: list[Any]) -> type[Mailbox]:
    """A mailbox class that records the id of each settled envelope into ``settled``."""

    class Recording(Mailbox):
        __slots__ = ()

        def settle(self, envelope: Envelope, cut_short: bool = False) -> None:
            settled.append(envelope.id)

    return Recording


class Worker(Actor):
    """Settles its mailbox through ``settled`` (it swaps its mailbox's class in on_start,
    before the cell reads it). Handles: ``"crash-once"`` (raises on the first attempt),
    ``"always"`` (always raises), ``"wait"`` (blocks on ``gate``), ``"hang"`` (blocks for
    good), anything else: echoes. ``entered`` is set when it starts on ``"wait"`` or ``"hang"``."""

    def __init__(self, mailbox_class: type[Mailbox], gate: anyio.Event, entered: anyio.Event):
        self.mailbox_class = mailbox_class
        self.gate = gate
        self.entered = entered

    async def on_start(self) -> None:
        cell = self.system.cell(self.name)
        assert cell is not None
        cell.mailbox.__class__ = self.mailbox_class

    async def receive(self, message: Any) -> Any:
        envelope = self.envelope
        assert envelope is not None
        if message == "crash-once" and envelope.attempt == 1:
            raise Boom(message)
        if message == "always":
            raise Boom(message)
        if message in ("wait", "hang"):
            self.entered.set()
            await (self.gate.wait() if message == "wait" else anyio.sleep_forever())
        return message


async def test_every_envelope_is_settled_once_across_handling_crashes_and_retries() -> None:
    settled: list[Any] = []
    gate, entered = anyio.Event(), anyio.Event()
    gate.set()
    async with ActorSystem(intensity=Intensity(max_restarts=10)) as system:
        await system.spawn(lambda: Worker(recording(settled), gate, entered), name="w",
                           max_attempts=2)  # fmt: skip
        bus = system.bus
        await bus.tell("w", "plain", message_id="t-plain")
        await bus.tell("w", "crash-once", message_id="t-retried")  # crash, restart, attempt 2
        await bus.tell("w", "always", message_id="t-failed")  # dead-lettered after 2 attempts
        with pytest.raises(Boom):
            await bus.ask("w", "always", message_id="a-failed", timeout=5)
        assert await bus.ask("w", "done", message_id="a-done", timeout=5) == "done"
        assert Counter(settled) == Counter(
            ["t-plain", "t-retried", "t-failed", "a-failed", "a-done"]
        )
        [failed] = system.dead_letters.by_reason(DeadLetterReason.HANDLER_FAILED)
        assert failed.envelope.id == "t-failed"


async def test_skipped_and_dead_lettered_at_stop_envelopes_are_settled_once() -> None:
    settled: list[Any] = []
    gate, entered = anyio.Event(), anyio.Event()
    async with ActorSystem() as system:
        await system.spawn(lambda: Worker(recording(settled), gate, entered), name="w",
                           shutdown=0.05)  # fmt: skip
        bus = system.bus
        await bus.tell("w", "wait", message_id="t-wait")
        await entered.wait()
        with pytest.raises(AskTimeout):  # abandoned before the actor got to it: skipped
            await bus.ask("w", "late", message_id="a-abandoned", timeout=0.01)
        gate.set()
        assert await bus.ask("w", "sync", message_id="a-sync", timeout=5) == "sync"
        info = system.info("w")
        assert info is not None and info.stats.expired == 1
        assert Counter(settled) == Counter(["t-wait", "a-abandoned", "a-sync"])
        await bus.tell("w", "hang", message_id="t-cancelled")
        await bus.tell("w", "queued", message_id="t-queued")

        async def ask_queued() -> None:
            with pytest.raises(ActorStopped):
                await bus.ask("w", "queued", message_id="a-queued", timeout=5)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask_queued)
            cell = system.cell("w")
            assert cell is not None
            with anyio.fail_after(5):  # until the ask is queued
                while all(envelope.id != "a-queued" for envelope in cell.mailbox.queued):
                    await anyio.lowlevel.checkpoint()
            await system.lookup("w").stop()  # "hang" is cancelled past the shutdown budget
        reasons = {letter.envelope.id: letter.reason for letter in system.dead_letters}
        assert reasons["t-cancelled"] is DeadLetterReason.CANCELLED
        assert reasons["t-queued"] is DeadLetterReason.NOT_PROCESSED
        assert Counter(settled) == Counter(
            ["t-wait", "a-abandoned", "a-sync", "t-cancelled", "t-queued", "a-queued"]
        )
