"""Messages that carry a per-run channel to the tools of the agent handling them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

if TYPE_CHECKING:
    from ..actors import Actor

C = TypeVar("C")


class ChannelMessage(str, Generic[C]):
    """Text for an agent, carrying a ``channel`` back to the run that sent it.

    A ``str`` subclass: a Letta agent sends it as the user message unchanged, a plain actor
    reads it as text; the pattern's tool (or a Python actor, through the channel) reports to
    the run through ``channel``.
    """

    channel: C

    def __new__(cls, text: str, channel: C) -> Self:
        message = super().__new__(cls, text)
        message.channel = channel
        return message


def channel_of(actor: Actor, kind: type[ChannelMessage[Any]]) -> Any:
    """The channel of the message ``actor`` is handling, if it is a ``kind``; else None."""
    envelope = actor.envelope
    payload = envelope.payload if envelope is not None else None
    return payload.channel if isinstance(payload, kind) else None
