"""One message's conversation with a Letta agent: the user message, then tool rounds.

The agent's turn ends when a response stops for another reason than ``requires_approval``.
Until then each tool call it asks for is run by the actor (a client-side tool), and the tool
returns are sent back. Past ``AgentOptions.max_tool_rounds`` the calls are refused with an
error tool return; past ``grace_rounds`` more, :class:`ToolLoopExceeded` is raised. A user
message refused because an approval is pending (409) settles it first (at most 3 times).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, cast

import anyio
from letta_client.types.agents.message_create_params import ClientTool as LettaClientTool

from ._connection import PendingApprovalConflict, _Resend
from ._errors import LettaRequestFailed, ToolLoopExceeded
from ._reply import ReplyBuilder, parse_arguments
from ._tools import ClientTool, ToolContext, ToolError
from ._turn import Turn

if TYPE_CHECKING:
    from ._agent import LettaAgent
    from ._recovery import Recovery
    from ._requests import AgentRequests

log = logging.getLogger("letta_actors.letta")

#: Tool return sent for a tool call left pending when a new message arrives.
SUPERSEDED_REASON = "tool call abandoned (the conversation moved on)"


def _approval(call_id: str, result: str, status: str) -> dict[str, Any]:
    return {"type": "tool", "tool_call_id": call_id, "tool_return": result, "status": status}


class Conversation:
    """Talks with ``agent``'s Letta agent through ``requests``; ``recovery`` reads back the
    outcome of a request that may have arrived."""

    def __init__(self, agent: LettaAgent, requests: AgentRequests, recovery: Recovery) -> None:
        self.agent = agent
        self.requests = requests
        self.recovery = recovery

    async def letta_tools(self) -> list[LettaClientTool]:
        return [cast(LettaClientTool, t.to_letta()) for t in await self.agent.client_tools()]

    async def converse(
        self, text: str, otid: str, builder: ReplyBuilder, *, look_first: bool = False
    ) -> None:
        """Send ``text`` and run the tools the agent calls until its turn ends, into ``builder``.

        ``look_first``: the message may have been delivered before (a redelivery with the same
        ``otid``): its outcome is read back if Letta has it, and it is sent only if not.
        """
        agent, options = self.agent, self.agent.options
        tools = await agent.client_tools()
        by_name = {t.name: t for t in tools}
        letta_tools = [cast(LettaClientTool, t.to_letta()) for t in tools]
        turn = await self.send_user(text, otid, letta_tools, look_first=look_first)
        self._add_turn(builder, turn)
        rounds = 0
        while turn.stop_reason == "requires_approval" and turn.pending:
            rounds += 1
            if rounds > options.max_tool_rounds + options.grace_rounds:
                raise ToolLoopExceeded(
                    f"{agent.name}: the agent called client tools more than "
                    f"{options.max_tool_rounds} rounds in a row"
                )
            refuse = None
            if rounds > options.max_tool_rounds:
                refuse = (
                    f"tool call limit reached ({options.max_tool_rounds} rounds); "
                    "answer without calling tools"
                )
            approvals: list[dict[str, Any]] = []
            for call in turn.pending:
                status, result = await self._run_tool(call, by_name, refuse)
                builder.client_result(call.tool_call_id, call.name, call.arguments, status, result)
                approvals.append(_approval(call.tool_call_id, result, status))
            turn = await self.send_approvals(approvals, letta_tools)
            self._add_turn(builder, turn)

    async def send_user(
        self, text: str, otid: str, tools: list[LettaClientTool], *, look_first: bool = False
    ) -> Turn:
        """Send the user message; a pending approval (409) is settled first, up to 3 times.

        ``look_first``: look ``otid`` up first (:meth:`Recovery.user_message`) and return the
        outcome found; send only when it never arrived.
        """
        sent_at = time.monotonic()

        async def recover() -> Turn | _Resend:
            return await self.recovery.user_message(otid, sent_at)

        if look_first:
            found = await recover()
            if isinstance(found, Turn):
                return found
        for _ in range(3):
            try:
                return await self.requests.send_user(text, otid, tools, recover)
            except PendingApprovalConflict:
                await self.settle_pending(SUPERSEDED_REASON, tools)
        raise LettaRequestFailed(
            f"{self.agent.name}: the agent kept a pending approval", status="pending_approval"
        )

    async def send_approvals(
        self, approvals: list[dict[str, Any]], tools: list[LettaClientTool]
    ) -> Turn:
        """Send tool returns (recovered, if their outcome is ambiguous, by their call ids)."""
        ids = {a["tool_call_id"] for a in approvals}
        sent_at = time.monotonic()

        async def recover() -> Turn | _Resend:
            return await self.recovery.tool_returns(ids, sent_at)

        return await self.requests.send_approvals(approvals, tools, recover)

    async def settle_pending(
        self, reason: str, tools: list[LettaClientTool] | None = None, rounds: int = 3
    ) -> int:
        """Answer every pending tool call with an error tool return carrying ``reason``,
        ``rounds`` times at most while the agent asks for more; the number answered."""
        if tools is None:
            tools = await self.letta_tools()
        settled = 0
        for _ in range(rounds):
            calls = await self.requests.pending_tool_calls()
            if not calls:
                break
            log.warning("%s: settling %d pending tool call(s): %s", self.agent.name, len(calls),
                        reason)  # fmt: skip
            approvals = [_approval(c.tool_call_id, reason, "error") for c in calls]
            settled += len(calls)
            turn = await self.send_approvals(approvals, tools)
            if turn.stop_reason != "requires_approval":
                break
        return settled

    async def _run_tool(
        self, call: Any, tools: dict[str, ClientTool], refuse: str | None
    ) -> tuple[str, str]:
        """Run one tool call: ``(status, tool return)``; every failure is an error return."""
        agent = self.agent
        name = str(call.name)
        agent.letta_stats.tool_calls[name] += 1
        if refuse is not None:
            return "error", refuse
        tool = tools.get(name)
        if tool is None:
            return "error", f"unknown tool {name!r}"
        arguments = parse_arguments(call.arguments)
        if arguments is None or arguments == "":
            arguments = {}
        if not isinstance(arguments, dict):
            return "error", f"{name}: arguments must be a JSON object"
        ctx = ToolContext(agent, str(call.tool_call_id), name)
        timeout = agent.options.tool_timeout
        with anyio.move_on_after(timeout) as scope:
            try:
                return "success", await tool.invoke(ctx, arguments)
            except ToolError as exc:
                return "error", str(exc)
            except Exception as exc:
                return "error", f"{name} failed: {type(exc).__name__}: {exc}"
        if scope.cancelled_caught:
            return "error", f"{name} timed out after {timeout:g} s"
        return "error", f"{name} did not return"  # pragma: no cover

    def _add_turn(self, builder: ReplyBuilder, turn: Turn) -> None:
        builder.add_messages(turn.messages)
        builder.add_usage(turn.usage)
        reply = builder.reply
        reply.stop_reason = turn.stop_reason
        reply.rounds += 1
        reply.recovered = reply.recovered or turn.recovered
        usage = turn.usage
        if usage is not None:
            stats = self.agent.letta_stats
            stats.prompt_tokens += getattr(usage, "prompt_tokens", None) or 0
            stats.completion_tokens += getattr(usage, "completion_tokens", None) or 0
            stats.steps += getattr(usage, "step_count", None) or 0
