"""Tells to one actor gathered into one NATS message: non-durable ones per turn of the event
loop (:class:`Batches`), durable ones while the previous store is in flight (:class:`Group`).

A cross-node tell costs the sender and the receiver far more in the NATS client (building,
parsing and dispatching one protocol message) than in the message itself. The tells a node
sends to one actor within one turn of its event loop therefore travel as one NATS message (a
JSON array of envelopes), sent when the loop turns (the sender yields, e.g. every few hundred
tells, or awaits anything), or at once, awaited, when the batch reaches :data:`BATCH_BYTES`
(which keeps the NATS client's own backpressure). Nothing else changes: a non-durable tell is
at-most-once either way, and the tells of one sender to one actor keep their order (one
subject, one connection). An ask to an actor first sends the tells gathered for it, so a tell
is not overtaken by a later ask of the same sender.

Durable tells to one actor are stored in its JetStream subject one message at a time, in order
(group commit): the first is published at once; the tells that arrive while a store is in
flight join one :class:`Group`, published (one JetStream message, one acknowledgement from the
server) when the store before it ended. Each of them returns once its group is stored. One
sender awaiting each tell sees no difference; concurrent senders share the store's round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from ..actors import Envelope

#: A batch is sent, awaited, once it holds this many bytes (also bounded by the max payload).
BATCH_BYTES = 64 * 1024
#: Durable tells stored as one JetStream message at most.
GROUP_MAX = 64


@dataclass
class Batch:
    """The tells gathered for one subject: their encoded envelopes, and the envelopes."""

    datas: list[bytes] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    size: int = 2  # the array's brackets

    def add(self, data: bytes, envelope: Envelope) -> None:
        self.datas.append(data)
        self.envelopes.append(envelope)
        self.size += len(data) + 1

    @property
    def payload(self) -> bytes:
        """One envelope as itself, several as a JSON array."""
        if len(self.datas) == 1:
            return self.datas[0]
        return b"[" + b",".join(self.datas) + b"]"


class Batches:
    """The batches of one node, by subject; ``send`` is called once per loop turn with what
    was gathered (subject -> batch), synchronously."""

    def __init__(self, send: Callable[[dict[str, Batch]], None]) -> None:
        self._send = send
        self._open: dict[str, Batch] = {}

    def add(self, subject: str, data: bytes, envelope: Envelope, limit: int) -> Batch | None:
        """Gather ``data`` for ``subject``, or return a batch the caller must send now
        (awaited): this one with ``data`` once it reached :data:`BATCH_BYTES`, or, when
        ``data`` does not fit in the ``limit`` (bytes a NATS message may hold), the one before,
        without ``data`` (add it again once that one is sent)."""
        batches = self._open
        batch = batches.get(subject)
        if batch is None:
            if not batches:
                asyncio.get_running_loop().call_soon(self.send_all)
            batch = batches[subject] = Batch()
        elif batch.size + len(data) + 1 > limit:
            del batches[subject]
            return batch
        batch.add(data, envelope)
        if batch.size >= BATCH_BYTES:
            del batches[subject]
            return batch
        return None

    def take(self, subject: str) -> Batch | None:
        """The batch gathered for ``subject``, if any (the caller sends it)."""
        return self._open.pop(subject, None)

    def send_all(self) -> None:
        """Send every batch gathered (the loop turned, or the transport stops)."""
        if self._open:
            batches, self._open = self._open, {}
            self._send(batches)


@dataclass
class Group(Batch):
    """Durable tells to one actor stored as one JetStream message, after the group ``after``
    (the previous store of that subject) ended; ``error`` is what failed it, if anything."""

    after: Group | None = None
    #: A tell with its sender's own id: stored alone, under that id.
    alone: bool = False
    publishing: bool = False
    ended: bool = False
    error: BaseException | None = None
    _ended: anyio.Event | None = None  # made when somebody waits

    def fits(self, data: bytes, limit: int) -> bool:
        """Whether ``data`` may still join (the group is not being published, and has room)."""
        return (
            not self.publishing
            and not self.alone
            and len(self.datas) < GROUP_MAX
            and self.size + len(data) + 1 <= min(BATCH_BYTES, limit)
        )

    @property
    def message_id(self) -> str:
        """The JetStream message id: the lone tell's id, or the first one's and the count."""
        first = str(self.envelopes[0].id)
        return first if len(self.datas) == 1 else f"{first}+{len(self.datas)}"

    async def wait_ended(self) -> None:
        """Return once the group's store ended (stored, or failed: see ``error``)."""
        if not self.ended:
            if self._ended is None:
                self._ended = anyio.Event()
            await self._ended.wait()

    def end(self, error: BaseException | None) -> None:
        self.ended, self.error = True, error
        if self._ended is not None:
            self._ended.set()
