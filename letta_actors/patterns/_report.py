"""How an agent reports to the run whose message it is handling: a channel on the message.

A run sends its agent a :class:`ChannelMessage`: text (a ``str``, so any actor, and
``LettaAgent.render``, sees the plain message) carrying a *channel*, the object the run reads
when the ask returns (a handoff's ``HandoffChannel``, a vote's ``VoteChannel``, an
orchestrator's ``DelegationLedger``). A plain actor reports by calling the channel
(``message.transfer(...)``, ``message.vote(...)``); a Letta agent by a client-side tool that
:func:`report_tool` builds over the channel, offered only while the agent handles such a
message (:func:`channel_tools`). A channel refuses a report by raising
:class:`~letta_actors.errors.ToolError`: the agent gets its text as the tool's error, a plain
actor gets the exception.

The Letta tool type is imported only when a tool is built, which only a Letta agent does: runs
among plain actors never load the Letta integration.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

if TYPE_CHECKING:
    from ..actors._actor import Actor
    from ..letta import ClientTool, LettaAgent, ToolContext

C = TypeVar("C")

#: What a report tool runs: ``report(channel, ctx, **arguments)`` returns the tool's text
#: (or raises :class:`~letta_actors.errors.ToolError` to refuse).
Report = Callable[..., Awaitable[str] | str]


class ChannelMessage(str, Generic[C]):
    """Text for an agent, carrying a ``channel`` back to the run that sent it."""

    channel: C

    def __new__(cls, text: str, channel: C) -> Self:
        message = super().__new__(cls, text)
        message.channel = channel
        return message


def channel_of(actor: Actor, kind: type[ChannelMessage[C]]) -> C | None:
    """The channel of the message ``actor`` is handling, if it is a ``kind``; else None."""
    envelope = actor.envelope
    payload = envelope.payload if envelope is not None else None
    return payload.channel if isinstance(payload, kind) else None


def report_tool(
    channel: C, name: str, description: str, parameters: dict[str, Any], report: Report
) -> ClientTool:
    """A client-side tool ``name`` (JSON-schema ``parameters``) that runs
    ``report(channel, ctx, **arguments)`` and answers the agent with its text."""
    from ..letta import ClientTool  # only a Letta agent builds tools

    async def handler(ctx: ToolContext, **arguments: Any) -> str:
        result = report(channel, ctx, **arguments)
        return await result if inspect.isawaitable(result) else result

    return ClientTool(
        name=name,
        description=description,
        parameters=parameters,
        handler=handler,
        wants_context=True,
    )


def channel_tools(
    agent: LettaAgent, kind: type[ChannelMessage[C]], offer: Callable[[C], ClientTool | None]
) -> list[ClientTool]:
    """The tool ``offer`` makes for the channel of the ``kind`` message ``agent`` is handling:
    none outside such a message, or when ``offer`` returns None (nothing to report now)."""
    channel = channel_of(agent, kind)
    tool = offer(channel) if channel is not None else None
    return [tool] if tool is not None else []
