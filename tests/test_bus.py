"""The bus: addressing, topics, links, dead letters, the envelope."""

from __future__ import annotations

from typing import Any

import anyio
import pydantic
import pytest

from letta_actors import (
    DEAD_LETTERS_TOPIC,
    Actor,
    ActorSystem,
    DeadLetter,
    DeadLetterReason,
    Envelope,
    NotLinked,
)
from letta_actors.bus import DeadLetters, LinkGraph

from .helpers import Echo, Recorder

pytestmark = pytest.mark.anyio


async def test_bus_addresses_by_name() -> None:
    recorder = Recorder()
    async with ActorSystem() as system:
        await system.spawn(lambda: recorder, name="r")
        await system.bus.tell("r", "hi")
        assert await system.bus.ask("r", "log", timeout=1) == ["hi"]


async def test_tell_to_unknown_actor_is_a_dead_letter() -> None:
    async with ActorSystem() as system:
        await system.bus.tell("nobody", {"x": 1})
        [letter] = system.dead_letters
        assert letter.reason is DeadLetterReason.UNKNOWN_RECIPIENT
        assert letter.envelope.recipient == "nobody"
        assert letter.envelope.payload == {"x": 1}
        assert system.dead_letters.totals[DeadLetterReason.UNKNOWN_RECIPIENT] == 1


async def test_publish_reaches_each_subscriber_through_its_mailbox() -> None:
    a, b = Recorder(), Recorder()
    async with ActorSystem() as system:
        ref_a = await system.spawn(lambda: a, name="a")
        ref_b = await system.spawn(lambda: b, name="b")
        system.bus.subscribe("news", "a")
        system.bus.subscribe("news", ref_b)
        system.bus.subscribe("news", "a")  # idempotent
        assert await system.bus.publish("news", "n1") == 2
        system.bus.unsubscribe("news", "a")
        assert await system.bus.publish("news", "n2") == 1
        assert await system.bus.publish("empty", "n3") == 0
        assert await ref_a.ask("log") == ["n1"]
        assert await ref_b.ask("log") == ["n1", "n2"]
        assert system.bus.topics.published["news"] == 2


async def test_published_envelope_carries_the_topic() -> None:
    topics: list[str | None] = []

    class TopicReader(Actor):
        async def receive(self, message: Any) -> Any:
            topics.append(self.envelope.topic if self.envelope else None)

    async with ActorSystem() as system:
        ref = await system.spawn(TopicReader, name="t")
        system.bus.subscribe("alerts", "t")
        await system.bus.publish("alerts", 1)
        await ref.tell("direct")
        await ref.ask("sync")
    assert topics[:2] == ["alerts", None]


async def test_subscriber_gone_yields_dead_letter_and_subscription_is_forgotten() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="e")
        system.bus.subscribe("t", "e")
        system.bus.subscribe("t", "never-spawned")
        await ref.stop()
        assert system.bus.topics.subscribers("t") == ("never-spawned",)
        await system.bus.publish("t", 1)
        [letter] = system.dead_letters
        assert letter.envelope.topic == "t"


async def test_open_bus_lets_everyone_talk() -> None:
    class Caller(Actor):
        async def receive(self, message: Any) -> Any:
            return await self.ask("echo", message)

    async with ActorSystem() as system:
        await system.spawn(Echo, name="echo")
        caller = await system.spawn(Caller, name="caller")
        assert await caller.ask(5) == 5


async def test_enforced_links_refuse_unlinked_peers() -> None:
    class Caller(Actor):
        async def receive(self, message: Any) -> Any:
            target, kind = message
            if kind == "tell":
                await self.tell(target, "hi")
                return "told"
            return await self.ask(target, "hi")

    async with ActorSystem(enforce_links=True) as system:
        await system.spawn(Echo, name="friend")
        await system.spawn(Echo, name="stranger")
        caller = await system.spawn(Caller, name="caller", restart="permanent")
        system.bus.link("caller", "friend")
        assert await caller.ask(("friend", "ask")) == "hi"
        assert await caller.ask(("friend", "tell")) == "told"
        with pytest.raises(NotLinked, match="'caller' is not linked to 'stranger'"):
            await caller.ask(("stranger", "ask"))
        with pytest.raises(NotLinked):
            await caller.ask(("stranger", "tell"))
        # From outside any actor, and to a linked peer the other way round, it is allowed.
        assert await system.bus.ask("stranger", "outside") == "outside"
        assert system.bus.linked("friend", "caller")


async def test_one_way_link() -> None:
    async with ActorSystem(enforce_links=True) as system:
        system.bus.link("a", "b", both_ways=False)
        assert system.bus.linked("a", "b")
        assert not system.bus.linked("b", "a")
        assert system.bus.peers("a") == frozenset({"b"})
        system.bus.unlink("a", "b", both_ways=False)
        assert not system.bus.linked("a", "b")


def test_link_graph_is_queryable_and_validated() -> None:
    graph = LinkGraph()
    graph.link("orchestrator", "writer")
    graph.link("orchestrator", "researcher")
    graph.link("writer", "editor", both_ways=False)
    assert graph.edges() == [
        ("orchestrator", "researcher"),
        ("orchestrator", "writer"),
        ("researcher", "orchestrator"),
        ("writer", "editor"),
        ("writer", "orchestrator"),
    ]
    assert graph.as_dict()["orchestrator"] == ["researcher", "writer"]
    graph.forget("writer")
    assert graph.peers("orchestrator") == frozenset({"researcher"})
    with pytest.raises(ValueError, match="itself"):
        graph.link("a", "a")
    with pytest.raises(ValueError, match="non-empty"):
        graph.link("", "a")


async def test_dead_letters_are_published_on_their_topic() -> None:
    letters: list[DeadLetter] = []
    got = anyio.Event()

    class Watcher(Actor):
        async def receive(self, message: Any) -> Any:
            letters.append(message)
            got.set()

    async with ActorSystem() as system:
        await system.spawn(Watcher, name="watcher")
        system.bus.subscribe(DEAD_LETTERS_TOPIC, "watcher")
        await system.bus.tell("ghost", "boo")
        await got.wait()
        assert letters[0].envelope.recipient == "ghost"
        assert letters[0].reason is DeadLetterReason.UNKNOWN_RECIPIENT


def test_dead_letter_log_is_bounded_but_totals_keep_counting() -> None:
    log = DeadLetters(capacity=3)
    for i in range(10):
        log.record(Envelope(i, "x", i, 0.0), DeadLetterReason.UNKNOWN_RECIPIENT)
    assert [d.envelope.payload for d in log] == [7, 8, 9]
    assert log.total == 10
    log.clear()
    assert len(log) == 0
    assert log.total == 10
    with pytest.raises(ValueError, match="capacity"):
        DeadLetters(capacity=0)


def test_envelope_round_trips_through_json_without_the_reply_slot() -> None:
    envelope = Envelope(7, "b", {"text": "hi", "n": [1, 2]}, 123.5, sender="a", topic="t",
                        correlation_id=7, chain=("x", "a"), attempt=2)  # fmt: skip
    data = envelope.to_json()
    assert b"reply_to" not in data
    back = Envelope.from_json(data)
    assert (back.id, back.sender, back.recipient, back.topic) == (7, "a", "b", "t")
    assert back.payload == {"text": "hi", "n": [1, 2]}
    assert back.chain == ("x", "a")
    assert back.attempt == 2
    assert back.reply_to is None
    with pytest.raises(pydantic.ValidationError):
        Envelope.from_json(b'{"id": "not a number"}')


def test_envelope_payload_may_be_a_pydantic_model() -> None:
    class Task(pydantic.BaseModel):
        title: str

    envelope = Envelope(1, "b", Task(title="write"), 0.0)
    assert b'"title":"write"' in envelope.to_json()
