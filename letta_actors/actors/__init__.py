"""Actors: the base class, refs, mailboxes, envelopes, the cell that runs them and the registry
of names (the layers above reach actors through :class:`ActorRegistry` and :class:`ActorInfo`)."""

from ._actor import Actor
from ._cell import ActorCell, ActorState
from ._checks import seconds
from ._context import current_cell
from ._crashes import cancelled_from_outside, is_cancellation
from ._envelope import Envelope
from ._info import ActorInfo
from ._mailbox import Mailbox, MailboxConfig, Overflow, Takeable
from ._monitor import Terminated
from ._reasons import DeadLetterReason
from ._ref import ActorRef
from ._registry import ActorRegistry
from ._reply import ReplySlot
from ._stats import BUCKETS, ActorStats, Histogram
from ._tracing import Attributes, AttributeValue, Receive, SpanHandle, SpanKind, Tracer

__all__ = [
    "BUCKETS",
    "Actor",
    "ActorCell",
    "ActorInfo",
    "ActorRef",
    "ActorRegistry",
    "ActorState",
    "ActorStats",
    "AttributeValue",
    "Attributes",
    "DeadLetterReason",
    "Envelope",
    "Histogram",
    "Mailbox",
    "MailboxConfig",
    "Overflow",
    "Receive",
    "ReplySlot",
    "SpanHandle",
    "SpanKind",
    "Takeable",
    "Terminated",
    "Tracer",
    "cancelled_from_outside",
    "current_cell",
    "is_cancellation",
    "seconds",
]
