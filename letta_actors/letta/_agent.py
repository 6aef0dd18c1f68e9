"""``LettaAgent``: an actor that wraps one Letta agent."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import anyio
from letta_client import APIError, AsyncLetta, NotFoundError, omit
from letta_client.types.agents.message_create_params import ClientTool as LettaClientTool
from pydantic import BaseModel

from ..actors import Actor
from ._config import AgentOptions, AgentSpec
from ._connection import RESEND, LettaConnection, PendingApprovalConflict, _Resend
from ._errors import LettaAgentNotFound, LettaOutcomeUnknown, LettaRequestFailed, ToolLoopExceeded
from ._reply import AgentReply, ReplyBuilder, parse_arguments, tool_calls_of
from ._stats import LettaStats
from ._tools import ClientTool, ToolContext, ToolError, ToolFactory, bus_tools, tool_from_function
from ._traced import traced_request

log = logging.getLogger("letta_actors.letta")

#: Tool return sent for a tool call left pending by a previous instance of the actor.
RESTART_REASON = "actor restarted; tool call abandoned"
#: Tool return sent for a tool call left pending when a new message arrives.
SUPERSEDED_REASON = "tool call abandoned (the conversation moved on)"
_TERMINAL_RUN = ("completed", "failed", "cancelled")


@dataclass
class _Turn:
    """One Letta response (or the equivalent read back from the server)."""

    messages: list[Any]
    stop_reason: str
    usage: Any = None
    pending: list[Any] = field(default_factory=list)  # tool calls awaiting an answer
    recovered: bool = False

    @classmethod
    def of(cls, response: Any) -> _Turn:
        stop = getattr(getattr(response, "stop_reason", None), "stop_reason", None) or "unknown"
        messages = list(response.messages)
        return cls(messages, str(stop), response.usage, _unanswered(messages))


def _unanswered(messages: Sequence[Any]) -> list[Any]:
    """Tool calls of approval requests in ``messages`` that no later tool return answers."""
    pending: dict[str, Any] = {}
    for m in messages:
        kind = getattr(m, "message_type", None)
        if kind == "approval_request_message":
            for call in tool_calls_of(m):
                pending[call.tool_call_id] = call
        elif kind == "tool_return_message":
            for ret in getattr(m, "tool_returns", None) or [m]:
                pending.pop(getattr(ret, "tool_call_id", ""), None)
    return list(pending.values())


def _infer_stop(messages: Sequence[Any]) -> str | None:
    if _unanswered(messages):
        return "requires_approval"
    kinds = [getattr(m, "message_type", None) for m in messages]
    if kinds and kinds[-1] == "assistant_message":
        return "end_turn"
    return None


class LettaAgent(Actor):
    """An actor that wraps one Letta agent (see ``docs/letta-agents.md``).

    A message (str, pydantic model, other JSON-able value) is sent to the agent as a user
    message; the reply to an ask is an :class:`AgentReply`. Client-side tools (user tools and
    the bus tools ``ask_agent`` / ``tell_agent`` / ``publish``) are run by the actor through
    Letta's approval protocol until the turn ends.

    Letta errors that remain after the connection's retry policy reach the asker as
    :class:`LettaRequestFailed` (and subclasses); they do **not** restart the actor
    (``restart_on_error = False``): the agent's state lives on the server, the instance holds
    nothing that a restart would repair, and a pending approval is settled before the next
    message anyway.
    """

    restart_on_error: ClassVar[bool] = False
    cancel_abandoned_asks: ClassVar[bool] = True
    default_shutdown: ClassVar[float] = 10.0

    def __init__(
        self,
        spec: AgentSpec,
        connection: LettaConnection,
        *,
        options: AgentOptions | None = None,
        tools: Iterable[ClientTool | Callable[..., Any]] = (),
        tool_factories: Iterable[ToolFactory] = (),
    ) -> None:
        self.spec = spec
        self.connection = connection
        self.options = options or AgentOptions()
        self.tools: list[ClientTool] = [
            t if isinstance(t, ClientTool) else tool_from_function(t) for t in tools
        ]
        self.tool_factories = list(tool_factories)
        self._agent_id: str | None = spec.agent_id
        #: Pending tool calls answered with an error by the last :meth:`on_start`.
        self.settled_on_start = 0

    @classmethod
    def factory(
        cls,
        spec: AgentSpec,
        connection: LettaConnection,
        *,
        options: AgentOptions | None = None,
        tools: Iterable[ClientTool | Callable[..., Any]] = (),
        tool_factories: Iterable[ToolFactory] = (),
    ) -> Callable[[], LettaAgent]:
        """A zero-argument factory for ``system.spawn`` (called again on every restart)."""
        tool_list = list(tools)
        factories = list(tool_factories)
        return lambda: cls(
            spec, connection, options=options, tools=tool_list, tool_factories=factories
        )

    # -- identity and counters ------------------------------------------------------------

    @property
    def agent_id(self) -> str:
        """The Letta agent id (known once :meth:`on_start` has run)."""
        if self._agent_id is None:
            raise RuntimeError(f"{self.name}: the Letta agent is not resolved yet")
        return self._agent_id

    @property
    def letta_stats(self) -> LettaStats:
        """The Letta counters of this actor (kept on its cell: they survive restarts)."""
        return LettaStats.attach(self.stats, self.connection.server)

    def peers(self) -> list[str]:
        """The actors this one is linked to on the bus (the only ones its tools can reach)."""
        return sorted(self.system.bus.peers(self.name))

    # -- lifecycle ------------------------------------------------------------------------

    async def on_start(self) -> None:
        """Resolve (find or create) the agent, then settle any approval left pending."""
        self.connection.register(self.name, self.letta_stats)
        self._agent_id = await self._resolve()
        self.settled_on_start = await self.settle_pending(RESTART_REASON)

    async def on_stop(self) -> None:
        self.connection.unregister(self.name)

    async def _request(
        self,
        op: Callable[[AsyncLetta], Awaitable[Any]],
        what: str,
        *,
        fail_fast: bool = True,
        recover: Callable[[], Awaitable[Any]] | None = None,
    ) -> Any:
        if (tracer := self.system.tracer) is not None:
            return await traced_request(tracer, self, op, what, fail_fast=fail_fast,
                                        recover=recover)  # fmt: skip
        return await self.connection.request(
            op,
            stats=self.letta_stats,
            what=f"{self.name}: {what}",
            fail_fast=fail_fast,
            recover=recover,
        )

    async def _resolve(self) -> str:
        spec = self.spec
        if spec.agent_id is not None:
            agent_id = spec.agent_id

            async def retrieve(client: AsyncLetta) -> str:
                try:
                    return (await client.agents.retrieve(agent_id)).id
                except NotFoundError as exc:
                    raise LettaAgentNotFound(f"no Letta agent {agent_id!r}") from exc

            result: str = await self._request(retrieve, "retrieve agent", fail_fast=False)
            return result

        async def find(client: AsyncLetta) -> str | None:
            found = [
                a
                async for a in client.agents.list(
                    name=spec.name, tags=[spec.owner_tag], match_all_tags=True
                )
                if a.name == spec.name
            ]
            if not found:
                return None
            if len(found) > 1:
                log.warning("%d Letta agents named %r: using the oldest", len(found), spec.name)
            found.sort(key=lambda a: (a.created_at is None, a.created_at))
            return found[0].id

        async def create(client: AsyncLetta) -> str:
            return (await client.agents.create(**self._create_args())).id

        async def recover() -> str | _Resend:
            existing = await self._request(find, "find agent", fail_fast=False)
            return RESEND if existing is None else cast(str, existing)

        existing = await self._request(find, "find agent", fail_fast=False)
        if existing is not None:
            return cast(str, existing)
        created: str = await self._request(create, "create agent", fail_fast=False, recover=recover)
        log.info("%s: created Letta agent %s (%s)", self.name, spec.name, created)
        return created

    def _create_args(self) -> dict[str, Any]:
        spec = self.spec
        blocks: list[dict[str, Any]] = []
        if spec.persona is not None:
            blocks.append({"label": "persona", "value": spec.persona})
        if spec.human is not None:
            blocks.append({"label": "human", "value": spec.human})
        blocks.extend(b.model_dump(exclude_none=True) for b in spec.memory_blocks)
        tags = list(dict.fromkeys((spec.owner_tag, *spec.tags)))
        args: dict[str, Any] = {"name": spec.name, "tags": tags, "memory_blocks": blocks}
        optional = {
            "system": spec.system,
            "model": spec.model,
            "embedding": spec.embedding,
            "description": spec.description,
            "include_base_tools": spec.include_base_tools,
        }
        args.update({k: v for k, v in optional.items() if v is not None})
        if spec.tools:
            args["tools"] = list(spec.tools)
        if spec.block_ids:
            args["block_ids"] = list(spec.block_ids)
        return args

    # -- tools ----------------------------------------------------------------------------

    async def client_tools(self) -> list[ClientTool]:
        """The client-side tools offered with the next request (extension point).

        User tools, then the bus tools (``ask_agent`` / ``tell_agent`` when the actor has
        linked peers, ``publish`` when ``publish_topics`` is set), then whatever each of
        ``tool_factories`` returns (e.g. ``handoff`` / ``vote`` tools). Override to change.
        """
        tools = list(self.tools)
        if self.options.bus_tools:
            tools.extend(bus_tools(self.peers(), list(self.options.publish_topics)))
        for make in self.tool_factories:
            made = make(self)
            if not isinstance(made, list):
                made = await made
            tools.extend(made)
        return tools

    async def _run_tool(
        self, call: Any, tools: dict[str, ClientTool], refuse: str | None
    ) -> tuple[str, str]:
        name = str(call.name)
        self.letta_stats.tool_calls[name] += 1
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
        ctx = ToolContext(self, str(call.tool_call_id), name)
        with anyio.move_on_after(self.options.tool_timeout) as scope:
            try:
                return "success", await tool.invoke(ctx, arguments)
            except ToolError as exc:
                return "error", str(exc)
            except Exception as exc:
                return "error", f"{name} failed: {type(exc).__name__}: {exc}"
        if scope.cancelled_caught:
            return "error", f"{name} timed out after {self.options.tool_timeout:g} s"
        return "error", f"{name} did not return"  # pragma: no cover

    # -- messages -------------------------------------------------------------------------

    def render(self, message: Any) -> str:
        """The text sent to the agent for ``message``."""
        if isinstance(message, str):
            return message
        if isinstance(message, AgentReply):
            return message.text
        if isinstance(message, BaseModel):
            return message.model_dump_json()
        try:
            return json.dumps(message, default=str)
        except (TypeError, ValueError):
            return str(message)

    async def receive(self, message: Any) -> AgentReply:
        otid = str(uuid.uuid4())
        started = time.perf_counter()
        builder = ReplyBuilder(self.name, self.agent_id, otid)
        try:
            await self._converse(self.render(message), otid, builder)
        except BaseException as exc:
            # Cancelled, or the asker gave up (a cancellation may also surface as a transport
            # error or inside an exception group): the Letta run is abandoned.
            reply = self.envelope.reply_to if self.envelope is not None else None
            if isinstance(exc, anyio.get_cancelled_exc_class()) or (
                reply is not None and reply.abandoned
            ):
                await self._cancel_run()
            raise
        builder.reply.latency = time.perf_counter() - started
        return builder.reply

    async def _cancel_run(self) -> None:
        """Best effort: ask Letta to cancel the agent's run (shielded, short timeout)."""
        self.letta_stats.requests["cancelled"] += 1  # abandoned by us, whatever Letta does
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.options.cancel_timeout):
            try:
                await self.connection.client.agents.messages.cancel(self.agent_id)
            except APIError as exc:
                log.debug("%s: cancel: %s", self.name, exc)

    def _add_turn(self, builder: ReplyBuilder, turn: _Turn) -> None:
        builder.add_messages(turn.messages)
        builder.add_usage(turn.usage)
        builder.reply.stop_reason = turn.stop_reason
        builder.reply.rounds += 1
        builder.reply.recovered = builder.reply.recovered or turn.recovered
        usage = turn.usage
        if usage is not None:
            stats = self.letta_stats
            stats.prompt_tokens += getattr(usage, "prompt_tokens", None) or 0
            stats.completion_tokens += getattr(usage, "completion_tokens", None) or 0
            stats.steps += getattr(usage, "step_count", None) or 0

    async def _converse(self, text: str, otid: str, builder: ReplyBuilder) -> None:
        tools = await self.client_tools()
        by_name = {t.name: t for t in tools}
        letta_tools = [cast(LettaClientTool, t.to_letta()) for t in tools]
        turn = await self._send_user(text, otid, letta_tools)
        self._add_turn(builder, turn)
        options = self.options
        rounds = 0
        while turn.stop_reason == "requires_approval" and turn.pending:
            rounds += 1
            if rounds > options.max_tool_rounds + options.grace_rounds:
                raise ToolLoopExceeded(
                    f"{self.name}: the agent called client tools more than "
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
                approvals.append(
                    {"type": "tool", "tool_call_id": call.tool_call_id,
                     "tool_return": result, "status": status}
                )  # fmt: skip
            turn = await self._send_approvals(approvals, letta_tools)
            self._add_turn(builder, turn)

    async def _send_user(self, text: str, otid: str, tools: list[LettaClientTool]) -> _Turn:
        agent_id = self.agent_id
        max_steps = self.options.max_steps
        sent_at = time.monotonic()

        async def send(client: AsyncLetta) -> _Turn:
            response = await client.agents.messages.create(
                agent_id,
                messages=[{"role": "user", "content": text, "otid": otid}],
                client_tools=tools,
                max_steps=max_steps if max_steps else omit,
            )
            return _Turn.of(response)

        async def recover() -> _Turn | _Resend:
            return await self._recover_user(otid, sent_at)

        for _ in range(3):
            try:
                turn: _Turn = await self._request(send, "send message", recover=recover)
            except PendingApprovalConflict:
                await self.settle_pending(SUPERSEDED_REASON, tools)
                continue
            return turn
        raise LettaRequestFailed(
            f"{self.name}: the agent kept a pending approval", status="pending_approval"
        )

    async def _send_approvals(
        self, approvals: list[dict[str, Any]], tools: list[LettaClientTool]
    ) -> _Turn:
        agent_id = self.agent_id
        ids = {a["tool_call_id"] for a in approvals}
        sent_at = time.monotonic()

        async def send(client: AsyncLetta) -> _Turn:
            response = await client.agents.messages.create(
                agent_id,
                messages=[{"type": "approval", "approvals": cast(Any, approvals)}],
                client_tools=tools,
            )
            return _Turn.of(response)

        async def recover() -> _Turn | _Resend:
            return await self._recover_approval(ids, sent_at)

        turn: _Turn = await self._request(send, "send tool returns", recover=recover)
        return turn

    # -- pending approvals ----------------------------------------------------------------

    async def pending_tool_calls(self) -> list[Any]:
        """The tool calls the agent waits an answer for (empty when none)."""
        agent_id = self.agent_id

        async def get(client: AsyncLetta) -> list[Any]:
            state = await client.agents.retrieve(agent_id, include=["agent.pending_approval"])
            pending = state.pending_approval
            return tool_calls_of(pending) if pending is not None else []

        calls: list[Any] = await self._request(get, "read pending approval", fail_fast=False)
        return calls

    async def settle_pending(
        self, reason: str, tools: list[LettaClientTool] | None = None, *, rounds: int = 3
    ) -> int:
        """Answer every pending tool call with an error tool return carrying ``reason``.

        Repeats (up to ``rounds`` times) while the agent asks for more tools in response.
        Returns the number of tool calls answered.
        """
        if tools is None:
            tools = [cast(LettaClientTool, t.to_letta()) for t in await self.client_tools()]
        settled = 0
        for _ in range(rounds):
            calls = await self.pending_tool_calls()
            if not calls:
                break
            log.warning("%s: settling %d pending tool call(s): %s", self.name, len(calls), reason)
            approvals = [
                {"type": "tool", "tool_call_id": c.tool_call_id, "tool_return": reason,
                 "status": "error"}
                for c in calls
            ]  # fmt: skip
            settled += len(calls)
            turn = await self._send_approvals(approvals, tools)
            if turn.stop_reason != "requires_approval":
                break
        return settled

    # -- recovery after an ambiguous failure ----------------------------------------------

    def _server_was_down(self, since: float) -> bool:
        down = self.connection.unreachable_at
        return down is not None and down >= since

    async def _recent(self) -> list[Any]:
        agent_id = self.agent_id
        limit = self.options.lookup_limit

        async def get(client: AsyncLetta) -> list[Any]:
            page = await client.agents.messages.list(agent_id, limit=limit, order="desc")
            return list(page.items)

        items: list[Any] = await self._request(get, "look up messages", fail_fast=False)
        return items

    async def _after(self, message_id: str) -> list[Any]:
        agent_id = self.agent_id

        async def get(client: AsyncLetta) -> list[Any]:
            page = await client.agents.messages.list(
                agent_id, after=message_id, order="asc", limit=200
            )
            return list(page.items)

        items: list[Any] = await self._request(get, "read messages", fail_fast=False)
        return items

    async def _active_runs(self) -> list[str]:
        agent_id = self.agent_id

        async def get(client: AsyncLetta) -> list[str]:
            return [r.id async for r in client.runs.list(agent_id=agent_id, active=True)]

        runs: list[str] = await self._request(get, "list active runs", fail_fast=False)
        return runs

    async def _cancel_runs(self, run_ids: list[str]) -> None:
        if not run_ids:
            return
        agent_id = self.agent_id

        async def cancel(client: AsyncLetta) -> None:
            try:
                await client.agents.messages.cancel(agent_id, run_ids=run_ids)
            except APIError as exc:
                log.debug("%s: cancel stale runs: %s", self.name, exc)

        await self._request(cancel, "cancel stale runs", fail_fast=False)

    async def _not_delivered(self, sent_at: float, deadline: float) -> bool | None:
        """True: the request surely did not arrive (resend); None: not known yet (wait)."""
        active = await self._active_runs()
        if not active:
            return True
        if self._server_was_down(sent_at) or time.monotonic() > deadline:
            # A server that went down (or runs that never end) leaves runs 'created' forever.
            await self._cancel_runs(active)
            return True
        return None

    async def _recover_user(self, otid: str, sent_at: float) -> _Turn | _Resend:
        deadline = time.monotonic() + self.options.recovery_wait
        poll = 0.2
        while True:
            marker = next(
                (m for m in await self._recent()
                 if getattr(m, "message_type", None) == "user_message"
                 and getattr(m, "otid", None) == otid),
                None,
            )  # fmt: skip
            if marker is not None:
                log.info("%s: message %s had arrived; reading its outcome", self.name, otid)
                self.letta_stats.requests["recovered"] += 1
                return await self._outcome_after(marker, sent_at, deadline, otid)
            if await self._not_delivered(sent_at, deadline):
                log.info("%s: message %s did not arrive; sending it again", self.name, otid)
                return RESEND
            await anyio.sleep(poll)
            poll = min(poll * 2, 2.0)

    async def _recover_approval(self, ids: set[str], sent_at: float) -> _Turn | _Resend:
        deadline = time.monotonic() + self.options.recovery_wait
        poll = 0.2
        while True:
            pending = {c.tool_call_id for c in await self.pending_tool_calls()}
            if not ids & pending:
                marker = next(
                    (m for m in await self._recent()
                     if getattr(m, "message_type", None) == "tool_return_message"
                     and getattr(m, "tool_call_id", None) in ids),
                    None,
                )  # fmt: skip
                if marker is not None:
                    self.letta_stats.requests["recovered"] += 1
                    return await self._outcome_after(marker, sent_at, deadline, "tool returns")
            elif await self._not_delivered(sent_at, deadline):
                return RESEND
            if time.monotonic() > deadline:
                raise LettaOutcomeUnknown(
                    f"{self.name}: the tool returns were taken but their outcome is not readable",
                    otid="",
                    server=self.connection.server,
                )
            await anyio.sleep(poll)
            poll = min(poll * 2, 2.0)

    async def _outcome_after(
        self, marker: Any, sent_at: float, deadline: float, otid: str
    ) -> _Turn:
        """What the agent did after ``marker`` (our message), once its run has ended."""
        run_id = getattr(marker, "run_id", None)
        agent_id = self.agent_id
        poll = 0.2
        while True:
            after = await self._after(marker.id)
            stop = _infer_stop(after)
            if run_id is not None:

                async def get(client: AsyncLetta, run_id: str = run_id) -> Any:
                    return await client.runs.retrieve(run_id)

                run = await self._request(get, "read run", fail_fast=False)
                if run.status in _TERMINAL_RUN:
                    after = await self._after(marker.id)
                    stop = run.stop_reason or _infer_stop(after) or str(run.status)
                    return _Turn(after, str(stop), None, _unanswered(after), recovered=True)
            if stop is not None and (self._server_was_down(sent_at) or run_id is None):
                return _Turn(after, stop, None, _unanswered(after), recovered=True)
            if time.monotonic() > deadline:
                if stop is not None:
                    return _Turn(after, stop, None, _unanswered(after), recovered=True)
                raise LettaOutcomeUnknown(
                    f"{self.name}: message {otid} reached agent {agent_id} but no outcome "
                    "could be read; it is not sent again",
                    otid=otid,
                    run_id=run_id,
                    server=self.connection.server,
                )
            await anyio.sleep(poll)
            poll = min(poll * 2, 2.0)
