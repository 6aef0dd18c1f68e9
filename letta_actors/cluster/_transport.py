"""The node's NATS side: reaching actors owned elsewhere, and serving the ones owned here.

Sending (a :class:`~letta_actors.bus.Route`: the bus asks it for names it does not hold):

- a **tell to a durable actor** is published to the actor's subject of the JetStream stream,
  with its id as ``Nats-Msg-Id``; it returns once JetStream stored it (a resend of the same id
  within the stream's duplicate window is dropped). NATS away: it waits up to
  ``send_timeout``, then raises :class:`ClusterUnavailable` (nothing stored);
- a **tell to another actor** is a NATS core publish: at-most-once (a message in flight when
  its owner dies is lost). NATS away: :class:`ClusterUnavailable` at once;
- an **ask** is a NATS request. No owner subscribed (a failover in progress): it is sent again
  every ``retry_interval`` until the ask's deadline; no answer within ``send_timeout`` (the
  owner died or paused while handling it): sent again with the same id, marked as a possible
  redelivery, so the next owner handles it (a Letta agent looks its ``otid`` up first) and an
  owner that already has it answers every copy once it is done. NATS away:
  :class:`ClusterUnavailable` at once.

Serving (:meth:`Transport.serve`, when this node acquires an actor): a subscription to its
tell and ask subjects hands what arrives to the local actor (:meth:`Bus.accept`); for a durable
actor a push consumer on its subject feeds its :class:`StreamMailbox` from the first
unacknowledged message (a new owner deletes the previous owner's consumer and starts over:
what the old owner received but did not acknowledge is delivered again, marked ``attempt=2``).
:meth:`Transport.unserve` stops all of that first, when the actor is handed over or lost.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Collection
from contextlib import suppress
from typing import Any

import anyio
import nats.errors
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StreamConfig
from nats.js.errors import NotFoundError

from ..actors import DeadLetterReason, Envelope, ReplySlot
from ..durable import DecodeError
from ..system import ActorSystem
from ._connection import ClusterConnection
from ._errors import ClusterUnavailable
from ._leases import unavailable_as
from ._mailbox import StreamMailbox
from ._stats import ClusterStats
from ._wire import MSG_ID, Subjects, Wire, token

log = logging.getLogger("letta_actors.cluster")

#: Bytes kept free under the server's max payload for the protocol's headers.
_HEADROOM = 256
#: Answers kept per node for asks sent again after they were answered.
_ANSWERS_KEPT = 1024
#: How long a delivered message may stay unacknowledged before JetStream redelivers it to the
#: same consumer (a failover does not wait for this: the new owner makes a new consumer).
_ACK_WAIT = 24 * 3600.0
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
        except BaseException:
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
        self._recipients = {
            name: RemoteRecipient(self, name, name in self.durable) for name in placed
        }
        self._serving: dict[str, list[Subscription]] = {}
        self._in_flight: dict[str, list[str]] = {}
        self._answers: OrderedDict[str, bytes] = OrderedDict()
        self._tg: TaskGroup | None = None
        self._acks: MemoryObjectSendStream[Msg] | None = None

    # -- set-up ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the mailboxes' stream if absent (work-queue retention: a message leaves
        it once acknowledged). Raises :class:`ClusterUnavailable`."""
        config = StreamConfig(
            name=self.subjects.stream,
            subjects=[self.subjects.mailboxes],
            retention=RetentionPolicy.WORK_QUEUE,
        )
        with unavailable_as(f"creating stream {self.subjects.stream}"):
            try:
                await self.conn.js.stream_info(self.subjects.stream)
            except NotFoundError:
                await self.conn.js.add_stream(config)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled: acknowledgements and the asks being answered run here."""
        send, receive = anyio.create_memory_object_stream[Msg](math.inf)
        async with anyio.create_task_group() as tg, send, receive:
            self._tg, self._acks = tg, send
            tg.start_soon(self._send_acks, receive)
            task_status.started()
            await anyio.sleep_forever()

    # -- sending ---------------------------------------------------------------------------

    def recipient(self, name: str) -> RemoteRecipient | None:
        """The bus's Route: a placed actor this node does not hold."""
        return self._recipients.get(name)

    def _encode(self, envelope: Envelope, timeout: float | None = None) -> bytes:
        data = self.wire.envelope(envelope, timeout)
        self.conn.check_payload(len(data) + _HEADROOM)
        return data

    def _require_connected(self, what: str) -> None:
        if not self.conn.is_connected:
            raise ClusterUnavailable(what, ConnectionError("not connected to NATS"))

    async def publish(self, envelope: Envelope) -> None:
        """Store a tell in its recipient's stream subject (the :class:`Stream` of a mailbox)."""
        data = self._encode(envelope)
        subject = self.subjects.mailbox(envelope.recipient)
        with unavailable_as(f"storing a message to {envelope.recipient}"):
            await self.conn.js.publish(
                subject, data, timeout=self.send_timeout, stream=self.subjects.stream,
                headers={MSG_ID: str(envelope.id)},
            )  # fmt: skip

    async def tell(self, envelope: Envelope) -> None:
        """A non-durable tell: NATS core publish (at-most-once)."""
        data = self._encode(envelope)
        self._require_connected(f"telling {envelope.recipient}")
        await self.conn.client.publish(self.subjects.tell(envelope.recipient), data)

    async def ask(self, envelope: Envelope) -> None:
        """Request, retried until answered (see the module docstring); resolves the reply."""
        reply = envelope.reply_to
        assert reply is not None
        name = envelope.recipient
        subject = self.subjects.ask(name)
        deadline = anyio.current_effective_deadline()
        while True:
            self._require_connected(f"asking {name}")
            left = None if deadline == math.inf else max(0.0, deadline - anyio.current_time())
            data = self._encode(envelope, left)
            try:
                answer = await self.conn.client.request(subject, data, timeout=self.send_timeout)
            except nats.errors.NoRespondersError:
                await anyio.sleep(self.retry_interval)  # nobody owns it right now
                continue
            except nats.errors.TimeoutError:
                envelope.attempt = max(2, envelope.attempt)  # it may have been handled
                continue
            try:
                reply.set_result(self.wire.answer(name, answer.data))
            except Exception as exc:
                reply.set_error(exc)
            return

    # -- serving ---------------------------------------------------------------------------

    async def serve(self, actor: str, mailbox: StreamMailbox | None) -> None:
        """Start taking messages for ``actor`` (owned here now; already spawned)."""
        assert self._tg is not None, "Transport.run is not running"
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
        opened = self._open(msg)
        if opened is None:
            return
        envelope = opened[0]
        self.stats.remote_received += 1
        try:
            await self.system.bus.accept(envelope)
        except Exception as exc:
            log.warning("message %s to %s not queued: %s", envelope.id, envelope.recipient, exc)
            self.system.dead_letters.record(envelope, DeadLetterReason.RECIPIENT_STOPPED)

    async def _on_ask(self, msg: Msg) -> None:
        opened = self._open(msg)
        if opened is None or not msg.reply:
            return
        envelope, timeout = opened
        ident = str(envelope.id)
        answer = self._answers.get(ident)
        if answer is not None:
            await msg.respond(answer)
            return
        waiting = self._in_flight.get(ident)
        if waiting is not None:
            waiting.append(msg.reply)
            return
        self._in_flight[ident] = [msg.reply]
        self.stats.remote_received += 1
        slot = ReplySlot(self.system.event_factory)
        envelope.reply_to = slot
        envelope.correlation_id = ident
        try:
            await self.system.bus.accept(envelope)
        except Exception as exc:
            slot.set_error(exc)
        assert self._tg is not None
        self._tg.start_soon(self._answer, envelope, slot, math.inf if timeout is None else timeout)

    async def _answer(self, envelope: Envelope, slot: ReplySlot, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await slot.wait_done()
        if not slot.done:
            slot.abandon()
            return  # the asker gave up: no answer
        ident = str(envelope.id)
        if slot.error is None:
            data = self.wire.reply(envelope.recipient, slot.value)
        else:
            data = self.wire.reply(envelope.recipient, error=slot.error)
        self._answers[ident] = data
        while len(self._answers) > _ANSWERS_KEPT:
            self._answers.popitem(last=False)
        for inbox in self._in_flight.pop(ident, []):
            try:
                await self.conn.client.publish(inbox, data)
            except nats.errors.Error as exc:
                log.info("answer to %s not sent (%s): the asker sends again", ident, exc)

    def _open(self, msg: Msg) -> tuple[Envelope, float | None] | None:
        try:
            return self.wire.open(msg.data)
        except DecodeError as exc:
            log.error("message on %s dropped: %s", msg.subject, exc)  # noqa: TRY400
            return None

    # -- the durable mailbox's consumer --------------------------------------------------------

    def ack(self, message: Any) -> None:
        """Acknowledge a delivered message (sent by the serving task, in order)."""
        if self._acks is not None:
            self._acks.send_nowait(message)

    async def _send_acks(self, receive: MemoryObjectReceiveStream[Msg]) -> None:
        async for msg in receive:
            try:
                await msg.ack()
            except nats.errors.Error as exc:  # redelivered to the next owner: at-least-once
                log.info("acknowledgement on %s not sent: %s", msg.subject, exc)

    async def _consume(self, actor: str, mailbox: StreamMailbox) -> Subscription:
        """Subscribe ``mailbox`` to its stream subject from the first unacknowledged message:
        the previous consumer (another node's, or this node's last one) is replaced, and what
        it had delivered is marked as a possible redelivery. JetStream pushes at most
        ``capacity`` unacknowledged messages at a time (``max_ack_pending``)."""
        js, stream, name = self.conn.js, self.subjects.stream, token(actor)
        with unavailable_as(f"opening the mailbox of {actor}"):
            before = 0
            try:
                info = await js.consumer_info(stream, name)
                before = info.delivered.stream_seq or 0
                await js.delete_consumer(stream, name)
            except NotFoundError:
                pass

            async def stored(msg: Msg) -> None:
                opened = self._open(msg)
                if opened is None:
                    await msg.term()
                    return
                envelope = opened[0]
                meta = msg.metadata
                if meta.sequence.stream <= before or meta.num_delivered > 1:
                    envelope.attempt = max(envelope.attempt, 2)
                    self.stats.redeliveries += 1
                mailbox.deliver(envelope, msg)

            return await js.subscribe(
                self.subjects.mailbox(actor),
                durable=name,
                stream=stream,
                cb=stored,
                manual_ack=True,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=_ACK_WAIT,
                    max_ack_pending=mailbox.capacity,
                ),
            )

    async def lag(self, actor: str) -> int | None:
        """Messages in ``actor``'s stream subject not acknowledged yet (None: no consumer)."""
        try:
            with unavailable_as(f"reading the mailbox of {actor}"):
                info = await self.conn.js.consumer_info(self.subjects.stream, token(actor))
        except (NotFoundError, ClusterUnavailable):
            return None
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)
