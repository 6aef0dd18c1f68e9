"""``LettaAgent``: an actor that wraps one Letta agent.

The actor resolves (finds or creates) its agent on start and answers each message with a
conversation (:mod:`._conversation`); its Letta requests are thin wrappers (:mod:`._requests`)
and a request whose outcome is unknown is read back (:mod:`._recovery`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, cast

import anyio
from letta_client import APIError, AsyncLetta, NotFoundError
from letta_client.types.agents.message_create_params import ClientTool as LettaClientTool
from pydantic import BaseModel

from ..actors import Actor
from ._config import AgentOptions, AgentSpec
from ._connection import RESEND, LettaConnection, _Resend
from ._conversation import Conversation
from ._errors import LettaAgentNotFound
from ._recovery import Recovery
from ._reply import AgentReply, ReplyBuilder
from ._requests import AgentRequests
from ._stats import LettaStats
from ._tools import ClientTool, ToolFactory, bus_tools, tool_from_function

log = logging.getLogger("letta_actors.letta")

#: Tool return sent for a tool call left pending by a previous instance of the actor.
RESTART_REASON = "actor restarted; tool call abandoned"


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
        self._requests = AgentRequests(self)
        self._conversation = Conversation(self, self._requests, Recovery(self, self._requests))

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

    async def _resolve(self) -> str:
        spec = self.spec
        if spec.agent_id is not None:
            agent_id = spec.agent_id

            async def retrieve(client: AsyncLetta) -> str:
                try:
                    return (await client.agents.retrieve(agent_id)).id
                except NotFoundError as exc:
                    raise LettaAgentNotFound(f"no Letta agent {agent_id!r}") from exc

            result: str = await self._requests.read(retrieve, "retrieve agent")
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
            found.sort(key=lambda a: (a.created_at is None, a.created_at, a.id))
            return found[0].id

        async def create(client: AsyncLetta) -> str:
            return (await client.agents.create(**self._create_args())).id

        async def recover() -> str | _Resend:
            existing = await self._requests.read(find, "find agent")
            return RESEND if existing is None else cast(str, existing)

        existing = await self._requests.read(find, "find agent")
        if existing is not None:
            return cast(str, existing)
        created: str = await self._requests.request(
            create, "create agent", fail_fast=False, recover=recover
        )
        oldest = await self._requests.read(find, "find agent")
        if oldest is not None and oldest != created:
            # Another actor (another node) created it at the same time: both keep the oldest.
            log.info("%s: Letta agent %s was created twice; keeping %s", self.name, spec.name,
                     oldest)  # fmt: skip
            await self._delete_agent(created)
            return cast(str, oldest)
        log.info("%s: created Letta agent %s (%s)", self.name, spec.name, created)
        return created

    async def _delete_agent(self, agent_id: str) -> None:
        """Delete the Letta agent ``agent_id`` (already gone: nothing to do)."""

        async def delete(client: AsyncLetta) -> None:
            with contextlib.suppress(NotFoundError):
                await client.agents.delete(agent_id)

        await self._requests.read(delete, "delete duplicate agent")

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

    def _otid(self) -> tuple[str, bool]:
        """The ``otid`` of the current message's user message, and whether to look it up first.

        A str envelope id (a cluster wire id, a durable store's id, a daemon API message id:
        unique) is the otid, so a redelivered envelope (``attempt > 1``: a supervisor's
        redelivery, a cluster's after a failover, one a durable store restored after a crash)
        is looked up in Letta before it is sent again. Otherwise (an int id, only unique within
        its process) a fresh uuid4, never looked up.
        """
        envelope = self.envelope
        if envelope is not None and isinstance(envelope.id, str):
            return envelope.id, envelope.attempt > 1
        return str(uuid.uuid4()), False

    async def receive(self, message: Any) -> AgentReply:
        otid, look_first = self._otid()
        started = time.perf_counter()
        builder = ReplyBuilder(self.name, self.agent_id, otid)
        try:
            await self._conversation.converse(
                self.render(message), otid, builder, look_first=look_first
            )
        except BaseException as exc:
            if self._run_abandoned(exc):
                await self._cancel_run()
            raise
        builder.reply.latency = time.perf_counter() - started
        return builder.reply

    def _run_abandoned(self, exc: BaseException) -> bool:
        """Whether the Letta run of the current message is abandoned after ``exc``: the asker
        gave up, or the handling was cancelled (a cancellation may also surface as a transport
        error or inside an exception group). Not when cancelled with a str envelope id: the
        actor is being stopped (e.g. its node lost the actor's lease) and the message may be
        redelivered, to be looked up by its otid; a run marked cancelled would read as "never
        arrived" (Letta without Redis only marks it, the run goes on) and be sent twice."""
        envelope = self.envelope
        if envelope is None:
            return isinstance(exc, anyio.get_cancelled_exc_class())
        if envelope.reply_to is not None and envelope.reply_to.abandoned:
            return True
        return isinstance(exc, anyio.get_cancelled_exc_class()) and isinstance(envelope.id, int)

    async def _cancel_run(self) -> None:
        """Best effort: ask Letta to cancel the agent's run (shielded, short timeout)."""
        self.letta_stats.requests["cancelled"] += 1  # abandoned by us, whatever Letta does
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.options.cancel_timeout):
            try:
                await self.connection.client.agents.messages.cancel(self.agent_id)
            except APIError as exc:
                log.debug("%s: cancel: %s", self.name, exc)

    # -- pending approvals ----------------------------------------------------------------

    async def pending_tool_calls(self) -> list[Any]:
        """The tool calls the agent waits an answer for (empty when none)."""
        return await self._requests.pending_tool_calls()

    async def settle_pending(
        self, reason: str, tools: list[LettaClientTool] | None = None, *, rounds: int = 3
    ) -> int:
        """Answer every pending tool call with an error tool return carrying ``reason``.

        Repeats (up to ``rounds`` times) while the agent asks for more tools in response.
        Returns the number of tool calls answered.
        """
        return await self._conversation.settle_pending(reason, tools, rounds)
