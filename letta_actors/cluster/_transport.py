"""The node's NATS side: reaching actors owned elsewhere, and serving the ones owned here.

Sending (a :class:`~letta_actors.bus.Route`: the bus asks it for names it does not hold):

- a **tell to a durable actor** is published to the actor's subject of the JetStream stream,
  with its id as ``Nats-Msg-Id``; it returns once JetStream stored it (a resend of the same id
  within the stream's duplicate window is dropped). NATS away: it waits up to
  ``send_timeout``, then raises :class:`ClusterUnavailable` (nothing stored);
- a **tell to another actor** is a NATS core publish: at-most-once (a message in flight when
  its owner dies is lost). The tells to one actor within one turn of the event loop travel as
  one NATS message (``cluster/_batches.py``). NATS away: :class:`ClusterUnavailable` at once;
  lost after the tell returned, before its batch left: a dead letter ``not_sent``;
- an **ask** is a NATS request. No owner subscribed (a failover in progress), or the answer of
  a node that gave the actor up while the ask waited there: it is sent again every
  ``retry_interval`` until the ask's deadline; no answer within ``send_timeout`` (the owner
  died or paused while handling it): sent again with the same id. Both times it is marked as a
  possible redelivery, so the next owner handles it (a Letta agent looks its ``otid`` up
  first), and an owner that already has it answers every copy once it is done. NATS away:
  :class:`ClusterUnavailable` at once.

Serving (:meth:`Transport.serve`, when this node acquires an actor): a subscription to its
tell and ask subjects hands what arrives to the local actor (:meth:`Bus.accept`); for a durable
actor a push consumer on its subject feeds its :class:`StreamMailbox` from the first
unacknowledged message (each owner makes its own consumer, starting after the previous one's
ack floor: what the old owner received but did not acknowledge is delivered again, marked
``attempt=2``). Acknowledgements are cumulative (``AckPolicy.ALL``) and batched: a mailbox
settles in delivery order, so acknowledging the latest settled message covers the ones before.
:meth:`Transport.unserve` stops all of that first, when the actor is handed over or lost.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Collection, Coroutine
from contextlib import suppress
from typing import Any

import anyio
import nats.errors
import orjson
from anyio.abc import TaskStatus
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    RetentionPolicy,
    StreamConfig,
)
from nats.js.errors import APIError, NotFoundError

from ..actors import DeadLetterReason, Envelope, ReplySlot
from ..durable import DecodeError
from ..errors import ActorError, ActorNotFound, ActorStopped, MailboxFull
from ..system import ActorSystem
from ._batches import Batch, Batches, Group
from ._connection import ClusterConnection
from ._errors import ClusterConfigError, ClusterUnavailable, PayloadTooLarge
from ._leases import UNAVAILABLE, unavailable_as
from ._mailbox import StreamMailbox
from ._stats import ClusterStats
from ._wire import MSG_ID, Moved, Subjects, Wire, token

log = logging.getLogger("letta_actors.cluster")

#: Bytes kept free under the server's max payload for the protocol's headers.
_HEADROOM = 256
#: Answers kept per node for asks sent again after they were answered.
_ANSWERS_KEPT = 1024
#: How long a delivered message may stay unacknowledged before JetStream redelivers it to the
#: same consumer (a failover does not wait for this: the new owner makes a new consumer).
_ACK_WAIT = 24 * 3600.0
#: Tokens of a JetStream reply subject in the form without a domain (nats-py's ``Msg.Ack``
#: indices are those of the form with one).
_V1_TOKENS = 9
#: How many consumers the server lists per request.
_CONSUMERS_PER_PAGE = 256
#: What unsubscribing from a subscription already gone raises.
_GONE = (nats.errors.ConnectionClosedError, nats.errors.BadSubscriptionError)


class RemoteRecipient:
    """An actor owned by another node, as the bus's :class:`~letta_actors.bus.Recipient`."""

    __slots__ = ("durable", "name", "transport")

    def __init__(self, transport: Transport, name: str, durable: bool) -> None:
        self.transport = transport
        self.name = name
        self.durable = durable

    async def deliver(self, envelope: Envelope) -> None:
        """Send ``envelope`` (see the module docstring); errors reach the sender."""
        transport = self.transport
        try:
            if envelope.reply_to is not None:
                await transport.ask(envelope)
            elif self.durable:
                await transport.publish(envelope)
            else:
                await transport.tell(envelope)
        except Exception:  # a cancellation (the asker's timeout, a stop) is no failure
            transport.stats.remote_send_failures += 1
            raise
        transport.stats.remote_sends += 1


class Transport:
    """One node's sending and serving over ``conn`` for the ``placed`` actors."""

    def __init__(
        self,
        conn: ClusterConnection,
        system: ActorSystem,
        wire: Wire,
        placed: Collection[str],
        durable: Collection[str],
        stats: ClusterStats,
    ) -> None:
        settings = conn.settings
        self.conn = conn
        self.system = system
        self.wire = wire
        self.stats = stats
        self.subjects = Subjects(settings.bucket_prefix)
        self.send_timeout = settings.send_timeout
        self.retry_interval = settings.retry_interval
        self.durable = frozenset(durable)
        self.node_token = token(settings.node)
        self._recipients = {
            name: RemoteRecipient(self, name, name in self.durable) for name in placed
        }
        self._serving: dict[str, list[Subscription]] = {}
        self._in_flight: dict[str, list[str]] = {}
        self._answers: OrderedDict[str, bytes] = OrderedDict()
        #: Asks being handled here: when their asker stops waiting (anyio clock), and the slot.
        self._deadlines: dict[str, tuple[float, ReplySlot]] = {}
        self._running = False
        #: Per consumer subscription (sid): the latest settled message, acknowledged (with
        #: the ones before it) when the loop turns.
        self._to_ack: dict[int, Msg] = {}
        #: The consumer each durable actor served here reads from.
        self._consumers: dict[str, str] = {}
        self._consumer_ids = itertools.count(1)
        self._batches = Batches(self._send_batches)
        #: The latest store of each stream subject (in flight, or waiting for the one before).
        self._stores: dict[str, Group] = {}

    # -- set-up ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the mailboxes' stream if absent: limits retention, messages kept
        ``mailbox_max_age`` (each consumer acknowledges in order, so what it acknowledged is
        behind its ack floor). Raises :class:`ClusterUnavailable`, and
        :class:`ClusterConfigError` for a stream of that name with other retention."""
        config = StreamConfig(
            name=self.subjects.stream,
            subjects=[self.subjects.mailboxes],
            retention=RetentionPolicy.LIMITS,
            max_age=self.conn.settings.mailbox_max_age,
        )
        with unavailable_as(f"creating stream {self.subjects.stream}"):
            try:
                info = await self.conn.js.stream_info(self.subjects.stream)
            except NotFoundError:
                await self.conn.js.add_stream(config)
                return
        if info.config.retention != RetentionPolicy.LIMITS:
            raise ClusterConfigError(
                f"stream {self.subjects.stream} exists with {info.config.retention} retention; "
                "this version keeps mailboxes with limits retention: delete the stream (after "
                "its messages were handled) or use another bucket_prefix"
            )

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled: the acknowledgements, and the expiry of asks whose asker
        stopped waiting, run here."""
        async with anyio.create_task_group() as tg:
            self._running = True
            tg.start_soon(self._expire_asks)
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                self._batches.send_all()

    # -- sending ---------------------------------------------------------------------------

    def recipient(self, name: str) -> RemoteRecipient | None:
        """The bus's Route: a placed actor this node does not hold."""
        return self._recipients.get(name)

    def _encode(self, envelope: Envelope, timeout: float | None = None) -> bytes:
        data = self.wire.envelope(envelope, timeout)
        if len(data) > self._payload_limit():
            raise PayloadTooLarge(len(data) + _HEADROOM, self.conn.client.max_payload)
        return data

    def _require_connected(self, what: str) -> None:
        if not self.conn.is_connected:
            raise ClusterUnavailable(what, ConnectionError("not connected to NATS"))

    async def publish(self, envelope: Envelope) -> None:
        """Store a tell in its recipient's stream subject (the :class:`Stream` of a mailbox).

        Stores of one subject go one at a time, in order; tells arriving meanwhile are stored
        together, as one message, next (``cluster/_batches.py``). A tell with its sender's own
        id (``message_id``) is stored alone, under that id, so that a resend of it within the
        duplicate window is dropped. Returns once stored; cancelled before that, the tell may
        be stored anyway (with the others of its group). NATS away:
        :class:`ClusterUnavailable` within twice ``send_timeout`` (nothing stored)."""
        alone = isinstance(envelope.id, str)
        data = self._encode(envelope)
        subject = self.subjects.mailbox(envelope.recipient)
        last = self._stores.get(subject)
        if last is not None and not alone and last.fits(data, self._payload_limit()):
            last.add(data, envelope)  # its first tell stores it
            await last.wait_ended()
            if last.error is not None:
                raise _again(last.error, f"storing a message to {envelope.recipient}")
            return
        group = self._stores[subject] = Group(after=last, alone=alone)
        group.add(data, envelope)
        if last is None:  # nothing in flight: stored now (nobody joins a group being stored)
            await self._store(subject, group)
            return
        with anyio.CancelScope(shield=True):  # the tells that join it are stored by this one
            await last.wait_ended()
            group.after = None
            await self._store(subject, group)

    async def _store(self, subject: str, group: Group) -> None:
        """Publish ``group`` to ``subject`` of the stream; it ends stored or failed."""
        group.publishing = True
        try:
            # What nats-py's js.publish does, its acknowledgement read with orjson; the
            # subject belongs to the mailboxes' stream alone (no expected-stream header).
            answer = await self.conn.client.request(
                subject, group.payload, timeout=self.send_timeout,
                headers={MSG_ID: group.message_id},
            )  # fmt: skip
            _check_stored(answer.data)
        except BaseException as exc:
            error: BaseException = exc
            if isinstance(exc, UNAVAILABLE):
                error = ClusterUnavailable(
                    f"storing a message to {group.envelopes[0].recipient}", exc
                )
            self._stored(subject, group, error)
            if error is exc:
                raise
            raise error from exc
        self._stored(subject, group, None)

    def _stored(self, subject: str, group: Group, error: BaseException | None) -> None:
        group.end(error)
        if self._stores.get(subject) is group:
            del self._stores[subject]

    def _payload_limit(self) -> int:
        """The most bytes one NATS message may carry here (the server's max payload, less the
        room kept for headers)."""
        return self.conn.client.max_payload - _HEADROOM

    async def tell(self, envelope: Envelope) -> None:
        """A non-durable tell: NATS core publish (at-most-once), gathered with the other tells
        to its recipient in this turn of the loop; a full batch is sent at once, awaited."""
        data = self._encode(envelope)
        self._require_connected(f"telling {envelope.recipient}")
        subject = self.subjects.tell(envelope.recipient)
        limit = self._payload_limit()
        while (full := self._batches.add(subject, data, envelope, limit)) is not None:
            await self._send_batch(subject, full, envelope)
            if full.envelopes[-1] is envelope:
                return

    async def _send_batch(self, subject: str, batch: Batch, sender: Envelope | None = None) -> None:
        """Publish ``batch`` now. NATS away: :class:`ClusterUnavailable` for the waiting
        ``sender``, dead letters for the other tells of the batch (their tells returned)."""
        try:
            await self.conn.client.publish(subject, batch.payload)
        except UNAVAILABLE as exc:  # the connection dropped, or its buffer is full
            self._not_sent(subject, [e for e in batch.envelopes if e is not sender], exc)
            raise ClusterUnavailable(f"telling {batch.envelopes[-1].recipient}", exc) from exc

    def _send_batches(self, batches: dict[str, Batch]) -> None:
        """Publish the batches gathered in one turn of the loop (called by the loop)."""
        for subject, batch in batches.items():
            failed = self._publish_now(subject, batch.payload)
            if failed is not None:
                self._not_sent(subject, batch.envelopes, failed)

    def _not_sent(self, subject: str, envelopes: list[Envelope], error: Exception) -> None:
        if not envelopes:
            return
        log.warning("%d tells on %s not sent: %s", len(envelopes), subject, error)
        self.stats.remote_sends -= len(envelopes)  # counted when their tells returned
        self.stats.remote_send_failures += len(envelopes)
        for envelope in envelopes:
            self.system.dead_letters.record(envelope, DeadLetterReason.NOT_SENT, error)

    async def ask(self, envelope: Envelope) -> None:
        """Request, retried until answered (see the module docstring); resolves the reply."""
        reply = envelope.reply_to
        assert reply is not None
        name = envelope.recipient
        told = self.subjects.tell(name)
        batch = self._batches.take(told)
        if batch is not None:  # the tells before this ask leave first
            await self._send_batch(told, batch)
        subject = self.subjects.ask(name)
        deadline = reply.deadline
        clock = asyncio.get_running_loop().time  # anyio's clock on asyncio
        while True:
            self._require_connected(f"asking {name}")
            left = None if deadline == math.inf else max(0.0, deadline - clock())
            data = self._encode(envelope, left)
            try:
                answer = await self.conn.client.request(subject, data, timeout=self.send_timeout)
            except nats.errors.NoRespondersError:
                await anyio.sleep(self.retry_interval)  # nobody owns it right now
                continue
            except nats.errors.TimeoutError:
                envelope.attempt = max(2, envelope.attempt)  # it may have been handled
                continue
            except UNAVAILABLE as exc:  # the connection dropped meanwhile
                raise ClusterUnavailable(f"asking {name}", exc) from exc
            try:
                reply.set_result(self.wire.answer(name, answer.data))
            except Moved:  # its node gave it up meanwhile: to the new owner, maybe seen before
                envelope.attempt = max(2, envelope.attempt)
                await anyio.sleep(self.retry_interval)
                continue
            except Exception as exc:  # the remote error, for the asker
                reply.set_error(exc)
            return

    # -- serving ---------------------------------------------------------------------------

    async def serve(self, actor: str, mailbox: StreamMailbox | None) -> None:
        """Start taking messages for ``actor`` (owned here now; already spawned)."""
        assert self._running, "Transport.run is not running"
        if actor in self._serving:
            return
        client = self.conn.client
        subs = [
            await client.subscribe(self.subjects.tell(actor), cb=self._on_tell),
            await client.subscribe(self.subjects.ask(actor), cb=self._on_ask),
        ]
        if mailbox is not None:
            subs.append(await self._consume(actor, mailbox))
        self._serving[actor] = subs

    async def unserve(self, actor: str) -> None:
        """Stop taking messages for ``actor`` (what was delivered stays unacknowledged unless
        handled before the actor stops)."""
        for sub in self._serving.pop(actor, []):
            with suppress(*_GONE):
                await sub.unsubscribe()

    def serving(self) -> list[str]:
        return list(self._serving)

    async def _on_tell(self, msg: Msg) -> None:
        """Queue the tells of a batch (or a lone one) in order; one that cannot be read is
        logged and skipped."""
        envelopes, errors = self.wire.open_tells(msg.data)
        for exc in errors:
            log.error("message on %s dropped: %s", msg.subject, exc)
        accept, dead_letters = self.system.bus.accept, self.system.dead_letters
        for envelope in envelopes:
            self.stats.remote_received += 1
            try:
                await accept(envelope)
            except MailboxFull:  # the "fail" policy, and nobody to raise it to: as "drop_newest"
                dead_letters.record(envelope, DeadLetterReason.DROPPED_NEWEST)
            except ActorError as exc:  # the system is stopping: nobody waits for a tell
                log.warning("message %s to %s not queued: %s", envelope.id, envelope.recipient, exc)
                dead_letters.record(envelope, DeadLetterReason.RECIPIENT_STOPPED)

    async def _on_ask(self, msg: Msg) -> None:
        if not msg.reply:
            return
        try:
            envelope, timeout = self.wire.open(msg.data)
        except DecodeError as exc:  # e.g. a model this node's codec does not know: say so
            log.error("ask on %s refused: %s", msg.subject, exc)  # noqa: TRY400
            self._answer(msg.reply, self.wire.reply(msg.subject, error=exc))
            return
        ident = str(envelope.id)
        answer = self._answers.get(ident)
        if answer is not None:
            self._answer(msg.reply, answer)
            return
        waiting = self._in_flight.get(ident)
        if waiting is not None:
            waiting.append(msg.reply)
            return
        self._in_flight[ident] = [msg.reply]
        self.stats.remote_received += 1
        slot = _RemoteReply(self.system.event_factory, self, envelope)
        if timeout is not None:
            self._deadlines[ident] = (asyncio.get_running_loop().time() + timeout, slot)
        envelope.reply_to = slot
        envelope.correlation_id = ident
        try:
            await self.system.bus.accept(envelope)
        except Exception as exc:
            slot.set_error(exc)

    def answered(self, envelope: Envelope, slot: ReplySlot) -> None:
        """Send an ask's answer to every copy of it that arrived (called in the task that
        resolved ``slot``), and keep it for a copy that arrives later."""
        ident = str(envelope.id)
        self._deadlines.pop(ident, None)
        error = slot.error
        if error is None:
            data = self.wire.reply(envelope.recipient, slot.value)
        elif isinstance(error, (ActorStopped, ActorNotFound)) and (
            envelope.recipient not in self._serving
        ):
            # Stopped because it left this node: the asker sends it to the new owner.
            data = self.wire.reply(envelope.recipient, error=Moved(envelope.recipient))
            for inbox in self._in_flight.pop(ident, []):
                self._answer(inbox, data)
            return
        else:
            data = self.wire.reply(envelope.recipient, error=error)
        self._answers[ident] = data
        while len(self._answers) > _ANSWERS_KEPT:
            self._answers.popitem(last=False)
        for inbox in self._in_flight.pop(ident, []):
            self._answer(inbox, data)

    def _publish_now(self, subject: str, data: bytes) -> Exception | None:
        """Publish from synchronous code; returns the error if it was not sent."""
        return self._run_now(self.conn.client.publish(subject, data))

    @staticmethod
    def _run_now(publishing: Coroutine[Any, Any, None]) -> Exception | None:
        """Run a nats-py publish (or ``Msg.ack``) from synchronous code; returns the error if
        it was not sent. nats-py queues the message before it could wait (only to flush a full
        buffer): the coroutine is run to its first suspension, and a suspended one is dropped,
        its message being queued already."""
        try:
            publishing.send(None)
        except StopIteration:
            return None
        except nats.errors.Error as exc:
            return exc
        publishing.close()
        return None

    def _answer(self, inbox: str, data: bytes) -> None:
        """Send an ask's answer; one not sent is sent again when the asker asks again."""
        failed = self._publish_now(inbox, data)
        if failed is not None:
            log.info("answer on %s not sent (%s): the asker sends again", inbox, failed)

    async def _expire_asks(self) -> None:
        """Give up the asks whose asker stopped waiting (an actor skips one it has not started
        on); checked every second."""
        while True:
            await anyio.sleep(1.0)
            now = anyio.current_time()
            for ident, (deadline, slot) in list(self._deadlines.items()):
                if deadline <= now:
                    del self._deadlines[ident]
                    self._in_flight.pop(ident, None)
                    slot.abandon()

    # -- the durable mailbox's consumer --------------------------------------------------------

    def ack(self, message: Any) -> None:
        """Acknowledge a delivered message and every one before it on its consumer
        (``AckPolicy.ALL``: a mailbox settles in delivery order) when the loop turns; only the
        latest of those settled meanwhile is sent."""
        to_ack = self._to_ack
        if not to_ack:
            asyncio.get_running_loop().call_soon(self._send_acks)
        to_ack[message.sid] = message

    def _send_acks(self) -> None:
        """Send the acknowledgements gathered in this turn of the loop (called by the loop);
        one not sent leaves its messages to be delivered again to the next owner."""
        waiting, self._to_ack = self._to_ack, {}
        for msg in waiting.values():
            failed = self._run_now(msg.ack())
            if failed is not None:
                log.info("acknowledgement on %s not sent: %s", msg.subject, failed)

    async def _consume(self, actor: str, mailbox: StreamMailbox) -> Subscription:
        """Subscribe ``mailbox`` to its stream subject from the first unacknowledged message.

        Each owner reads through a consumer of its own: the new one starts after the highest
        ack floor of the consumers found on the subject (another node's, or this node's last
        one; from the start of the stream when there is none), then those are deleted. What
        they had delivered past the floor comes again, marked as a possible redelivery. A
        crash in between leaves both: the next owner takes the highest floor again. JetStream
        pushes at most ``capacity`` unacknowledged messages at a time (``max_ack_pending``),
        each of up to ``GROUP_MAX`` tells.
        """
        js, stream = self.conn.js, self.subjects.stream
        subject = self.subjects.mailbox(actor)
        with unavailable_as(f"opening the mailbox of {actor}"):
            previous = [
                info
                for info in await self._consumers_of(stream)
                if info.config.filter_subject == subject
            ]
            floor = max((c.ack_floor.stream_seq or 0 for c in previous if c.ack_floor), default=0)
            before = max((c.delivered.stream_seq or 0 for c in previous if c.delivered), default=0)
            # Unique to this start of this node: binding to an older consumer of the same name
            # would resume its state instead of starting after the ack floor.
            name = f"{token(actor)}__{self.node_token}_{self.wire.boot}_{next(self._consumer_ids)}"

            async def stored(msg: Msg) -> None:
                envelopes, errors = self.wire.open_tells(msg.data)
                for exc in errors:
                    log.error("stored message on %s dropped: %s", msg.subject, exc)
                if not envelopes:
                    await msg.term()
                    return
                sequence, delivered = _delivery(msg.reply)
                if sequence <= before or delivered > 1:
                    for envelope in envelopes:
                        envelope.attempt = max(envelope.attempt, 2)
                    self.stats.redeliveries += len(envelopes)
                mailbox.deliver(envelopes, msg)

            start = (
                {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": floor + 1}
                if previous
                else {"deliver_policy": DeliverPolicy.ALL}
            )
            sub = await js.subscribe(
                subject,
                durable=name,
                stream=stream,
                cb=stored,
                manual_ack=True,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.ALL,
                    ack_wait=_ACK_WAIT,
                    max_ack_pending=mailbox.capacity,
                    **start,
                ),
            )
            for info in previous:
                if info.name == name:
                    continue
                with suppress(NotFoundError):
                    await js.delete_consumer(stream, info.name)
        self._consumers[actor] = name
        return sub

    async def _consumers_of(self, stream: str) -> list[ConsumerInfo]:
        """Every consumer of ``stream`` (the server lists 256 at a time)."""
        found: list[ConsumerInfo] = []
        while True:
            page = await self.conn.js.consumers_info(stream, offset=len(found))
            found.extend(page)
            if len(page) < _CONSUMERS_PER_PAGE:
                return found

    async def lag(self, actor: str) -> int | None:
        """Messages in ``actor``'s stream subject not acknowledged yet (None: no consumer)."""
        if actor not in self._consumers:
            return None
        try:
            with unavailable_as(f"reading the mailbox of {actor}"):
                info = await self.conn.js.consumer_info(
                    self.subjects.stream, self._consumers.get(actor, "")
                )
        except (NotFoundError, ClusterUnavailable):
            return None
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


def _check_stored(acknowledgement: bytes) -> None:
    """Raise the JetStream error a publish's acknowledgement carries, if any."""
    answer = orjson.loads(acknowledgement)
    if "error" in answer:
        raise APIError.from_error(answer["error"])


def _delivery(reply: str) -> tuple[int, int]:
    """A JetStream message's stream sequence and how many times it was delivered, from its
    reply subject (what nats-py's ``Msg.metadata`` parses, without the rest)."""
    tokens = reply.split(".")
    if len(tokens) == _V1_TOKENS:  # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>...
        return int(tokens[5]), int(tokens[4])
    return int(tokens[Msg.Ack.StreamSeq]), int(tokens[Msg.Ack.NumDelivered])


def _again(error: BaseException, operation: str) -> Exception:
    """The error of a group's store, for another tell of the group (each raises its own)."""
    if isinstance(error, ClusterUnavailable):
        return ClusterUnavailable(operation, error.__cause__ or error)
    return ClusterUnavailable(operation, error)


class _RemoteReply(ReplySlot):
    """The reply slot of an ask from another node: resolving it sends the answer at once, from
    the resolving task (no task of its own waits for it)."""

    __slots__ = ("_envelope", "_transport")

    def __init__(
        self, event_factory: Callable[[], anyio.Event], transport: Transport, envelope: Envelope
    ) -> None:
        super().__init__(event_factory)
        self._transport = transport
        self._envelope = envelope

    def set_result(self, value: Any) -> None:
        if not self.done:
            super().set_result(value)
            self._transport.answered(self._envelope, self)

    def set_error(self, error: BaseException) -> None:
        if not self.done:
            super().set_error(error)
            self._transport.answered(self._envelope, self)
