"""Request wrappers: the Letta API calls of one agent actor, each a thin wrapper of one request.

Every call goes through the actor's :class:`~._connection.LettaConnection` (rate limit,
circuit breaker, retries, the actor's :class:`~._stats.LettaStats`) and, when the system has a
tracer, runs in a client span. Errors are those of :meth:`LettaConnection.request`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from letta_client import APIError, AsyncLetta, omit
from letta_client.types.agents.message_create_params import ClientTool as LettaClientTool

from ._reply import tool_calls_of
from ._traced import traced_request
from ._turn import Turn

if TYPE_CHECKING:
    from ._agent import LettaAgent

log = logging.getLogger("letta_actors.letta")

#: A recovery for an ambiguous failure: the outcome read back, or ``RESEND``.
Recover = Callable[[], Awaitable[Any]]


class AgentRequests:
    """The Letta requests of ``agent`` (its agent id is read when each call is made)."""

    def __init__(self, agent: LettaAgent) -> None:
        self.agent = agent

    async def request(
        self,
        op: Callable[[AsyncLetta], Awaitable[Any]],
        what: str,
        *,
        fail_fast: bool = True,
        recover: Recover | None = None,
    ) -> Any:
        """``op(client)`` through the connection; ``what`` names it in errors, logs, spans."""
        agent = self.agent
        if (tracer := agent.system.tracer) is not None:
            return await traced_request(tracer, agent, op, what, fail_fast=fail_fast,
                                        recover=recover)  # fmt: skip
        return await agent.connection.request(
            op, stats=agent.letta_stats, what=f"{agent.name}: {what}", fail_fast=fail_fast,
            recover=recover,
        )  # fmt: skip

    async def read(self, op: Callable[[AsyncLetta], Awaitable[Any]], what: str) -> Any:
        """A read-only request (never fails fast: it waits for the breaker like a resolve)."""
        return await self.request(op, what, fail_fast=False)

    async def send_user(
        self, text: str, otid: str, tools: list[LettaClientTool], recover: Recover
    ) -> Turn:
        """Send a user message (with our ``otid``, so a recovery can look it up)."""
        agent_id, max_steps = self.agent.agent_id, self.agent.options.max_steps

        async def send(client: AsyncLetta) -> Turn:
            response = await client.agents.messages.create(
                agent_id,
                messages=[{"role": "user", "content": text, "otid": otid}],
                client_tools=tools,
                max_steps=max_steps if max_steps else omit,
            )
            return Turn.of(response)

        return cast(Turn, await self.request(send, "send message", recover=recover))

    async def send_approvals(
        self, approvals: list[dict[str, Any]], tools: list[LettaClientTool], recover: Recover
    ) -> Turn:
        """Answer pending tool calls with their tool returns."""
        agent_id = self.agent.agent_id

        async def send(client: AsyncLetta) -> Turn:
            response = await client.agents.messages.create(
                agent_id,
                messages=[{"type": "approval", "approvals": cast(Any, approvals)}],
                client_tools=tools,
            )
            return Turn.of(response)

        return cast(Turn, await self.request(send, "send tool returns", recover=recover))

    async def pending_tool_calls(self) -> list[Any]:
        """The tool calls the agent waits an answer for (empty when none)."""
        agent_id = self.agent.agent_id

        async def get(client: AsyncLetta) -> list[Any]:
            state = await client.agents.retrieve(agent_id, include=["agent.pending_approval"])
            pending = state.pending_approval
            return tool_calls_of(pending) if pending is not None else []

        return cast(list[Any], await self.read(get, "read pending approval"))

    async def recent(self) -> list[Any]:
        """The agent's last ``lookup_limit`` messages, newest first."""
        agent_id, limit = self.agent.agent_id, self.agent.options.lookup_limit

        async def get(client: AsyncLetta) -> list[Any]:
            page = await client.agents.messages.list(agent_id, limit=limit, order="desc")
            return list(page.items)

        return cast(list[Any], await self.read(get, "look up messages"))

    async def after(self, message_id: str) -> list[Any]:
        """The agent's messages after ``message_id``, oldest first (up to 200)."""
        agent_id = self.agent.agent_id

        async def get(client: AsyncLetta) -> list[Any]:
            page = await client.agents.messages.list(
                agent_id, after=message_id, order="asc", limit=200
            )
            return list(page.items)

        return cast(list[Any], await self.read(get, "read messages"))

    async def run(self, run_id: str) -> Any:
        """The Letta run ``run_id``."""

        async def get(client: AsyncLetta) -> Any:
            return await client.runs.retrieve(run_id)

        return await self.read(get, "read run")

    async def active_runs(self) -> list[str]:
        """The ids of the agent's runs that have not ended."""
        agent_id = self.agent.agent_id

        async def get(client: AsyncLetta) -> list[str]:
            return [r.id async for r in client.runs.list(agent_id=agent_id, active=True)]

        return cast(list[str], await self.read(get, "list active runs"))

    async def cancel_runs(self, run_ids: list[str]) -> None:
        """Cancel these runs of the agent (a refusal by the server is only logged)."""
        if not run_ids:
            return
        agent = self.agent
        agent_id = agent.agent_id

        async def cancel(client: AsyncLetta) -> None:
            try:
                await client.agents.messages.cancel(agent_id, run_ids=run_ids)
            except APIError as exc:
                log.debug("%s: cancel stale runs: %s", agent.name, exc)

        await self.read(cancel, "cancel stale runs")
