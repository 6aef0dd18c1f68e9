"""Actors: the base class, refs, mailboxes, envelopes and the cell that runs them."""

from ._actor import Actor
from ._cell import ActorCell, ActorState, DeadLetterReason
from ._envelope import Envelope
from ._info import ActorInfo
from ._mailbox import MailboxConfig, Overflow
from ._ref import ActorRef
from ._reply import ReplySlot
from ._stats import BUCKETS, ActorStats, Histogram

__all__ = [
    "BUCKETS",
    "Actor",
    "ActorCell",
    "ActorInfo",
    "ActorRef",
    "ActorState",
    "ActorStats",
    "DeadLetterReason",
    "Envelope",
    "Histogram",
    "MailboxConfig",
    "Overflow",
    "ReplySlot",
]
