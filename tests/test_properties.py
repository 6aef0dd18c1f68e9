"""Property-based: random interleavings of tells and asks lose nothing, duplicate nothing and
keep per-sender order, whatever the mailbox capacity."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letta_actors import Actor, ActorSystem, MailboxConfig

# One sender's script: (is_ask, checkpoints to yield before sending).
Script = list[tuple[bool, int]]

scripts = st.lists(
    st.lists(st.tuples(st.booleans(), st.integers(0, 3)), max_size=30), min_size=1, max_size=5
)


class Log(Actor):
    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    async def receive(self, message: Any) -> Any:
        if message == "dump":
            return list(self.seen)
        self.seen.append(message)
        return ("ack", message)


class Relay(Actor):
    """An actor sender: forwards each (sender, seq) to the log, as tell or ask."""

    async def receive(self, message: Any) -> Any:
        is_ask, item = message
        if is_ask:
            return await self.ask("log", item)
        await self.tell("log", item)
        return None


async def _run(senders: list[Script], capacity: int) -> None:
    async with ActorSystem(mailbox=MailboxConfig(capacity=capacity)) as system:
        log = await system.spawn(Log, name="log")
        relay = await system.spawn(Relay, name="relay")
        replies: dict[tuple[int, int], Any] = {}

        async def send(sender: int, script: Script) -> None:
            for seq, (is_ask, pauses) in enumerate(script):
                for _ in range(pauses):
                    await anyio.lowlevel.checkpoint()
                item = (sender, seq)
                if is_ask:
                    replies[item] = await log.ask(item, timeout=30)
                else:
                    await log.tell(item)

        async def send_via_relay(script: Script) -> None:
            for seq, (is_ask, _) in enumerate(script):
                item = (len(senders), seq)
                reply = await relay.ask((is_ask, item), timeout=30)
                if is_ask:
                    replies[item] = reply

        async with anyio.create_task_group() as tg:
            for sender, script in enumerate(senders):
                tg.start_soon(send, sender, script)
            tg.start_soon(send_via_relay, senders[0])

        seen = await log.ask("dump", timeout=30)
        all_scripts = [*senders, senders[0]]
        expected = {(s, q) for s, script in enumerate(all_scripts) for q in range(len(script))}
        assert len(seen) == len(set(seen)), "a message was delivered twice"
        assert set(seen) == expected, "a message was lost"
        for sender in range(len(all_scripts)):
            order = [q for s, q in seen if s == sender]
            assert order == sorted(order), f"sender {sender} out of order"
        for item, reply in replies.items():
            assert reply == ("ack", item)
        assert len(system.dead_letters) == 0


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=40, deadline=None)
@given(senders=scripts, capacity=st.integers(1, 8))
def test_interleavings_lose_nothing_duplicate_nothing_keep_order(
    backend: str, senders: list[Script], capacity: int
) -> None:
    anyio.run(_run, senders, capacity, backend=backend)
