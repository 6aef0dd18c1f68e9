"""The delivery seam: a route serves names this system does not hold (a remote transport)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from letta_actors import (
    Actor,
    ActorNotFound,
    ActorStopped,
    ActorSystem,
    AskTimeout,
    DeadLetterReason,
    Envelope,
    MailboxConfig,
    MailboxFull,
    ReplySlot,
)
from letta_actors.bus import LocalRecipient, Recipient, Route

from .helpers import Echo, Recorder

pytestmark = pytest.mark.anyio


class FakeRemote:
    """A route for ``names``: records what it is handed; answers asks as ``("remote", payload)``
    from a task of its own (as a transport answers when the reply comes back), unless ``mute``."""

    def __init__(self, names: set[str], tg: anyio.abc.TaskGroup, *, mute: bool = False) -> None:
        self.names = names
        self.tg = tg
        self.mute = mute
        self.received: list[Envelope] = []

    def recipient(self, name: str) -> Recipient | None:
        return self if name in self.names else None

    async def deliver(self, envelope: Envelope) -> None:
        self.received.append(envelope)
        reply = envelope.reply_to
        if reply is not None and not self.mute:
            self.tg.start_soon(self._answer, envelope)

    async def _answer(self, envelope: Envelope) -> None:
        await anyio.lowlevel.checkpoint()
        assert envelope.reply_to is not None
        envelope.reply_to.set_result(("remote", envelope.payload))


class Forwarder(Actor):
    """Tells each message to ``far`` (the sender is this actor), and asks it on ``("ask", x)``."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, tuple):
            return await self.ask("far", message[1], timeout=5)
        await self.tell("far", message)
        return None


async def test_a_route_receives_tells_and_asks_to_names_not_held_locally_in_order() -> None:
    async with anyio.create_task_group() as tg, ActorSystem() as system:
        remote = FakeRemote({"far", "away"}, tg)
        route: Route = remote
        system.bus.add_route(route)
        system.bus.add_route(route)  # once only
        assert system.bus.routes == (route,)
        await system.spawn(Forwarder, name="fwd")
        await system.spawn(Recorder, name="near")
        fwd = system.lookup("fwd")
        for i in range(50):
            await fwd.tell(i)
        await system.bus.tell("near", "local")  # a local name never goes to the route
        assert await fwd.ask(("ask", "q"), timeout=5) == ("remote", "q")
        assert await system.bus.ask("away", "direct", timeout=5) == ("remote", "direct")
        told = [e for e in remote.received if e.reply_to is None]
        assert [e.payload for e in told] == list(range(50))
        assert {(e.sender, e.recipient) for e in told} == {("fwd", "far")}
        asked = [e for e in remote.received if e.reply_to is not None]
        assert [(e.payload, e.sender, e.chain) for e in asked] == [
            ("q", "fwd", ("fwd",)),
            ("direct", None, ()),
        ]
        assert await system.lookup("near").ask("log", timeout=5) == ["local"]
        assert len(system.dead_letters) == 0
        tg.cancel_scope.cancel()


async def test_names_no_route_knows_follow_the_unknown_recipient_rules() -> None:
    async with anyio.create_task_group() as tg, ActorSystem() as system:
        remote = FakeRemote({"far"}, tg)
        system.bus.add_route(remote)
        await system.bus.tell("nowhere", "lost")
        [letter] = system.dead_letters
        assert letter.reason is DeadLetterReason.UNKNOWN_RECIPIENT
        with pytest.raises(ActorNotFound):
            await system.bus.ask("nowhere", "q", timeout=5)
        system.bus.remove_route(remote)
        system.bus.remove_route(remote)  # not an error
        with pytest.raises(TypeError, match=r"recipient\(name\) method"):
            system.bus.add_route(object())  # type: ignore[arg-type]
        await system.bus.tell("far", "after")
        assert remote.received == []
        assert [letter.envelope.payload for letter in system.dead_letters] == ["lost", "after"]
        tg.cancel_scope.cancel()


async def test_an_unanswered_remote_ask_times_out_and_abandons_its_reply() -> None:
    async with anyio.create_task_group() as tg, ActorSystem() as system:
        remote = FakeRemote({"far"}, tg, mute=True)
        system.bus.add_route(remote)
        with pytest.raises(AskTimeout):
            await system.bus.ask("far", "q", timeout=0.01)
        [envelope] = remote.received
        assert envelope.reply_to is not None and envelope.reply_to.abandoned
        tg.cancel_scope.cancel()


async def test_a_remote_topic_subscriber_is_reached_through_its_route() -> None:
    async with anyio.create_task_group() as tg, ActorSystem() as system:
        remote = FakeRemote({"far"}, tg)
        system.bus.add_route(remote)
        await system.spawn(Recorder, name="near")
        system.bus.subscribe("news", "near")
        system.bus.subscribe("news", "far")
        assert await system.bus.publish("news", "hello") == 2
        assert [(e.payload, e.topic) for e in remote.received] == [("hello", "news")]
        tg.cancel_scope.cancel()


async def test_local_recipient_keeps_the_contract() -> None:
    async with ActorSystem() as system:
        await system.spawn(Echo, name="full", mailbox=MailboxConfig(capacity=1, overflow="fail"))
        await system.spawn(Echo, name="gone")
        full, gone = system.cell("full"), system.cell("gone")
        assert full is not None and gone is not None
        full.mailbox.queued.append(Envelope(0, "full", "filler", 0.0))  # full, unconsumed
        local = LocalRecipient(full, system.dead_letters, lambda: None)
        with pytest.raises(MailboxFull):
            await local.deliver(Envelope(1, "full", "x", 0.0))
        full.mailbox.queued.clear()
        await system.lookup("gone").stop()
        stopped = LocalRecipient(gone, system.dead_letters, lambda: None)
        await stopped.deliver(Envelope(2, "gone", "tell", 0.0))
        assert system.dead_letters.by_reason(DeadLetterReason.RECIPIENT_STOPPED)
        ask = await system.bus.ask("full", "ok", timeout=5)
        assert ask == "ok"
        with pytest.raises(ActorStopped):
            await stopped.deliver(Envelope(3, "gone", "ask", 0.0, reply_to=ReplySlot()))
