"""Issue 13 on the embedded store: a Letta agent (the local stack) sees a durable message once,
even across a crash. A message whose Letta run completed but which was not acknowledged in the
store when the process died comes back (same id, ``attempt=2``): the agent looks its ``otid``
up, reads the outcome back, and does not send it to Letta again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from letta_actors import ActorSystem
from letta_actors.durable import DurableStore
from letta_actors.letta import AgentReply, AgentSpec, LettaAgent, LettaConnection
from letta_actors.localstack import LocalStack, ScriptedLLMAdmin

from ..letta.agent_fixtures import letta_conn, spec_for
from ..letta.test_otid import answer_with_echo, user_messages

pytestmark = [pytest.mark.anyio, pytest.mark.letta]
__all__ = ["letta_conn"]


class HoldsAfterReply(LettaAgent):
    """Hands each reply to ``replied``; with ``hold``, then never finishes the message: Letta
    has it and its outcome, the store no acknowledgement of it (where a SIGKILL may land)."""

    def __init__(
        self, *args: Any, replied: Callable[[AgentReply], None], hold: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.replied, self.hold = replied, hold

    async def receive(self, message: Any) -> AgentReply:
        reply = await super().receive(message)
        self.replied(reply)
        if self.hold:
            await anyio.sleep_forever()
        return reply


async def life(
    path: Path, spec: AgentSpec, conn: LettaConnection, *, hold: bool, tell: str | None = None
) -> AgentReply:
    """One process's life on the store ``path`` with the Letta agent actor ``alpha``: told
    ``tell`` (if any), it returns the first reply. With ``hold`` the message is never finished:
    leaving cuts it short, and the file keeps it unacknowledged, as a SIGKILL after the reply
    would (the acknowledgement is written a few ms after the handling)."""
    send, receive = anyio.create_memory_object_stream[AgentReply](1)
    async with DurableStore(path) as store:
        system = ActorSystem()
        await store.attach(system, ["alpha"])
        async with system:
            await system.spawn(
                lambda: HoldsAfterReply(spec, conn, replied=send.send_nowait, hold=hold),
                name="alpha",
                shutdown=0.05,
            )
            if tell is not None:
                await system.bus.tell("alpha", tell)
            with anyio.fail_after(120):
                return await receive.receive()


async def test_a_message_letta_handled_before_a_crash_is_not_sent_again(
    letta_conn: LettaConnection,
    letta_stack: LocalStack,
    agent_token: str,
    scripted_llm: ScriptedLLMAdmin,
    tmp_path: Path,
) -> None:
    answer_with_echo(scripted_llm, agent_token)
    spec = spec_for(letta_stack, agent_token, "alpha")
    path = tmp_path / "team.db"
    first = await life(path, spec, letta_conn, hold=True, tell="once")
    async with DurableStore(path) as store:
        [(_, stored)] = await store.pending("alpha")
    assert stored.id == first.otid  # the otid Letta got is the stored id
    calls = scripted_llm.stats().chat_requests

    again = await life(path, spec, letta_conn, hold=False)  # the next process on the file
    assert scripted_llm.stats().chat_requests == calls  # the LLM was not asked again
    assert again.otid == first.otid
    assert again.recovered and not first.recovered
    assert again.text == first.text == "echo: once"
    [sent] = await user_messages(letta_conn, first.agent_id)
    assert sent.otid == first.otid
    async with DurableStore(path) as store:
        assert await store.pending() == []  # acknowledged this time
