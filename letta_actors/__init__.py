"""letta-actors: run teams of Letta agents as an event-driven actor system.

The public API::

    from letta_actors import ActorSystem, Actor

    class Echo(Actor):
        async def receive(self, message):
            return message

    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="echo")
        assert await ref.ask("ping", timeout=1.0) == "ping"

A team declared in a file runs with :class:`Team` (``from letta_actors import Team``, imported on
first use: it brings the Letta integration and the patterns; see :mod:`letta_actors.team`).
"""

from typing import TYPE_CHECKING

from .actors import (
    Actor,
    ActorInfo,
    ActorRef,
    ActorState,
    DeadLetterReason,
    Envelope,
    MailboxConfig,
    ReplySlot,
)
from .bus import DEAD_LETTERS_TOPIC, Bus, DeadLetter
from .errors import (
    ActorError,
    ActorNotFound,
    ActorStopped,
    AskCycle,
    AskTimeout,
    MailboxFull,
    NameTaken,
    NotLinked,
    SupervisionEscalated,
    SystemStopped,
    UnexpectedCancellation,
)
from .supervisors import (
    NO_BACKOFF,
    Backoff,
    ChildSpec,
    Intensity,
    Supervisor,
    SupervisorHandle,
    Terminated,
)
from .system import ActorSystem

if TYPE_CHECKING:
    from .team import Team

__all__ = [
    "DEAD_LETTERS_TOPIC",
    "NO_BACKOFF",
    "Actor",
    "ActorError",
    "ActorInfo",
    "ActorNotFound",
    "ActorRef",
    "ActorState",
    "ActorStopped",
    "ActorSystem",
    "AskCycle",
    "AskTimeout",
    "Backoff",
    "Bus",
    "ChildSpec",
    "DeadLetter",
    "DeadLetterReason",
    "Envelope",
    "Intensity",
    "MailboxConfig",
    "MailboxFull",
    "NameTaken",
    "NotLinked",
    "ReplySlot",
    "SupervisionEscalated",
    "Supervisor",
    "SupervisorHandle",
    "SystemStopped",
    "Team",
    "Terminated",
    "UnexpectedCancellation",
]


def __getattr__(name: str) -> object:
    if name == "Team":  # imported on first use (the team layer sits above the core)
        from .team import Team

        return Team
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
