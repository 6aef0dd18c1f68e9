"""The delivery seam: how the bus hands an envelope to its recipient.

The bus builds the envelope (id, sender, call chain, trace context, an ask's reply slot), checks
links and the system's state, then hands it to a :class:`Recipient`. Today that is the local
cell (:class:`LocalRecipient`; the bus inlines its append when the mailbox has room, the hot
path). A transport serving names this system does not hold (another process, another machine)
implements :class:`Route` and registers with ``bus.add_route(route)``: a name held locally always
wins; for any other name the routes are asked in registration order, and the first recipient
found gets the envelope. Nothing in this contract touches cells or supervisors.

Contract of :meth:`Recipient.deliver`, for a transport to keep:

- **Ordering.** It is awaited in the sender's task, once per envelope, before the send returns;
  so the envelopes one sender sends to one recipient reach ``deliver`` in send order, and a
  recipient keeps that order (per sender, per recipient). No order holds across senders.
- **Full mailbox**, by the recipient's overflow policy: ``block`` waits for room (cancelling the
  wait leaves the envelope undelivered and re-raises the cancellation); ``drop_newest`` /
  ``drop_oldest`` drop one envelope, record it in dead letters (``DROPPED_NEWEST`` /
  ``DROPPED_OLDEST``) and fail its reply slot, if an ask, with
  :class:`~letta_actors.MailboxFull`; ``fail`` raises :class:`~letta_actors.MailboxFull` to the
  sender.
- **Stopped recipient.** A tell becomes a dead letter (``RECIPIENT_STOPPED``) and ``deliver``
  returns; an ask raises :class:`~letta_actors.ActorStopped` to the asker.
- **Unknown recipient** (no local cell, no route knows it): the bus, not the recipient, handles
  it: a tell becomes a dead letter (``UNKNOWN_RECIPIENT``), an ask raises
  :class:`~letta_actors.ActorNotFound`.
- **Tell vs ask.** A tell is done once ``deliver`` returns: handling failures are the
  recipient's (dead letters there). An ask carries ``envelope.reply_to``: whoever handles it
  resolves that slot (``set_result`` / ``set_error``, from any task; a remote transport does so
  when the answer comes back); the bus waits on it within the ask's timeout (queueing
  included), then abandons it (``reply_to.abandoned``): a late answer is discarded, and a
  recipient that has not started on the message skips it.
- A stopped system raises :class:`~letta_actors.SystemStopped`; nothing is lost silently: every
  envelope is queued, dead-lettered with its reason, or an error reaches the sender.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..actors import ActorCell, DeadLetterReason, Envelope
from ..errors import ActorStopped, MailboxFull
from ._dead_letters import DeadLetters


class Recipient(Protocol):
    """Where the bus hands an envelope (see the module docstring for the contract)."""

    async def deliver(self, envelope: Envelope) -> None:
        """Queue ``envelope`` at the recipient, or account for it (dead letter, error)."""


class Route(Protocol):
    """A transport that reaches names this system does not hold (``bus.add_route``)."""

    def recipient(self, name: str) -> Recipient | None:
        """The recipient that holds ``name``, or ``None`` when this route does not know it."""


class LocalRecipient:
    """A cell of this system as a :class:`Recipient` (what the bus uses when the mailbox has no
    room: it inlines the plain append otherwise)."""

    __slots__ = ("cell", "dead_letters", "require_running")

    def __init__(
        self, cell: ActorCell, dead_letters: DeadLetters, require_running: Callable[[], None]
    ) -> None:
        self.cell = cell
        self.dead_letters = dead_letters
        self.require_running = require_running

    async def deliver(self, envelope: Envelope) -> None:
        """Queue ``envelope``; failures to queue become dead letters or errors, never silence."""
        cell = self.cell
        mailbox = cell.mailbox
        try:
            dropped = mailbox.offer(envelope)
            if dropped is False:
                dropped = await mailbox.put(envelope)
        except ActorStopped:
            self.require_running()
            if envelope.reply_to is not None:
                raise
            self.dead_letters.record(envelope, DeadLetterReason.RECIPIENT_STOPPED)
            return
        except MailboxFull:
            cell.stats.dropped += 1
            raise
        cell.stats.received += 1
        if dropped is not None:
            cell.stats.dropped += 1
            if dropped is envelope:
                cell.stats.received -= 1
                reason = DeadLetterReason.DROPPED_NEWEST
            else:
                reason = DeadLetterReason.DROPPED_OLDEST
            if dropped.reply_to is not None:
                dropped.reply_to.set_error(MailboxFull(cell.name, mailbox.capacity))
            self.dead_letters.record(dropped, reason)
