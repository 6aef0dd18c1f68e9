"""Leases with exactly one holder, in a JetStream key-value bucket.

A lease is a key of the bucket: :meth:`Leases.acquire` creates it only if absent; the holder
renews it every ``renew_interval`` by an update that succeeds only if the key's revision is
still the one it wrote (compare-and-set); the bucket's TTL makes the server forget a lease
nobody renews, and then another node's ``acquire`` succeeds.

The holder side is conservative. It counts a lease as its own only while less than
``ttl - margin`` has passed since it SENT its last successful renewal (a boot-time clock:
SIGSTOP, a GC pause or a suspended machine count as time passed). Every renewal round, and
every :meth:`Leases.holds` call, first drops the leases past that point, so a node resumed
after a pause finds out before it handles anything. A lease is dropped (and ``on_lost``
called once with a :class:`LeaseLoss`) when it expires that way or when a renewal finds that
the key changed (another holder, or the server expired it). NATS being unreachable is not a
loss by itself: renewals are retried until the lease expires locally.

What a lease cannot do: stop a handler that is already running when the pause starts. Use
:meth:`Leases.revision` as a fencing token where an effect must be refused from a stale
holder (Letta agents dedupe by ``otid`` instead).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Self

import anyio
import nats.errors
from anyio.abc import TaskStatus
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    ServiceUnavailableError,
)
from nats.js.kv import KeyValue

from ._connection import ClusterConnection
from ._errors import ClusterConfigError, ClusterUnavailable
from ._keys import from_key, to_key
from ._settings import ClusterSettings, LeaseSettings

log = logging.getLogger("letta_actors.cluster")

Clock = Callable[[], float]

#: JetStream's "wrong last sequence" error codes (a compare-and-set mismatch).
_CAS_MISMATCH = (10071, 10164)

#: nats-py errors that mean "NATS did not answer" (as opposed to "it said no"); JetStream
#: answers 503 for a while after the server (re)starts.
UNAVAILABLE: tuple[type[Exception], ...] = (
    ServiceUnavailableError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
)


def lease_clock() -> float:
    """Seconds of a clock that keeps counting while the process is stopped or the machine
    sleeps (``CLOCK_BOOTTIME`` on Linux; ``time.monotonic`` elsewhere)."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


@dataclass(frozen=True)
class LeaseLoss:
    """A lease this node held and no longer holds, without having released it.

    ``reason``: ``"expired"`` (not renewed within ``ttl - margin``: paused, or NATS out of
    reach for too long) or ``"taken"`` (a renewal found the key changed: the server expired
    it, or another node holds it now).
    """

    name: str
    holder: str
    reason: Literal["expired", "taken"]
    revision: int


@dataclass
class _Held:
    revision: int
    renewed_at: float  # lease clock when the last successful create/update was SENT


@contextmanager
def unavailable_as(operation: str) -> Iterator[None]:
    """Turn nats-py's "no answer" errors into :class:`ClusterUnavailable`."""
    try:
        yield
    except UNAVAILABLE as exc:
        raise ClusterUnavailable(operation, exc) from exc


class Leases:
    """The leases ``holder`` takes in one bucket; a task must run :meth:`run` to renew them.

    ``on_lost`` is called (synchronously, from the renewing task or a :meth:`holds` call)
    once per lost lease; ``on_renewed(name, revision)`` after each successful renewal. Both
    must not block.
    """

    def __init__(
        self,
        conn: ClusterConnection,
        *,
        bucket: str,
        holder: str,
        settings: LeaseSettings,
        on_lost: Callable[[LeaseLoss], None] | None = None,
        on_renewed: Callable[[str, int], None] | None = None,
        clock: Clock = lease_clock,
    ) -> None:
        self.conn = conn
        self.on_renewed = on_renewed
        self.bucket = bucket
        self.holder = holder
        self.settings = settings
        self._valid_for = settings.valid_for  # read on every take: a property costs ~3 us
        self.on_lost = on_lost
        self.clock = clock
        self._held: dict[str, _Held] = {}
        self._kv: KeyValue | None = None
        self._value = json.dumps(
            {"holder": holder, "host": socket.gethostname(), "pid": os.getpid()}
        ).encode()

    @classmethod
    def of_node(
        cls,
        conn: ClusterConnection,
        settings: ClusterSettings,
        kind: str,
        *,
        on_lost: Callable[[LeaseLoss], None] | None = None,
        clock: Clock = lease_clock,
    ) -> Self:
        """The leases node ``settings.node`` holds in the bucket ``<bucket_prefix>_<kind>``."""
        return cls(
            conn,
            bucket=f"{settings.bucket_prefix}_{kind}",
            holder=settings.node,
            settings=settings.leases,
            on_lost=on_lost,
            clock=clock,
        )

    async def open(self) -> None:
        """Bind to the bucket, creating it with the TTL if absent. Raises
        :class:`ClusterConfigError` if it exists with another TTL (nodes must agree)."""
        with unavailable_as(f"opening bucket {self.bucket}"):
            try:
                kv = await self.conn.js.key_value(self.bucket)
            except BucketNotFoundError:
                kv = await self.conn.js.create_key_value(
                    bucket=self.bucket, ttl=self.settings.ttl, history=1
                )
            ttl = (await kv.status()).ttl
        if ttl is None or abs(ttl - self.settings.ttl) > 1e-3:
            raise ClusterConfigError(
                f"bucket {self.bucket} has a TTL of {ttl} s but leases.ttl is "
                f"{self.settings.ttl:g} s: every node must use the same lease settings"
            )
        self._kv = kv

    @property
    def kv(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("Leases.open() was not awaited")
        return self._kv

    # -- the holder's view -------------------------------------------------------------------

    def held(self) -> list[str]:
        """Names of the leases held now (after dropping expired ones)."""
        self.expire()
        return list(self._held)

    def holds(self, name: str) -> bool:
        """Whether this node holds ``name`` now; checks the elapsed time FIRST, and drops (and
        reports) the lease if it expired. Call it before handling anything for ``name``."""
        held = self._held.get(name)
        if held is None:
            return False
        if self.clock() - held.renewed_at >= self._valid_for:
            self._drop(name, held, "expired")
            return False
        return True

    def valid_at(self, name: str, now: float) -> bool:
        """Whether the lease on ``name`` is held and still valid at ``now`` (this lease clock's
        reading): :meth:`holds` without dropping an expired one, for the hot path."""
        held = self._held.get(name)
        return held is not None and now - held.renewed_at < self._valid_for

    def revision(self, name: str) -> int | None:
        """The revision of the held lease (a fencing token: it grows with every holder and
        every renewal), or None."""
        held = self._held.get(name) if self.holds(name) else None
        return held.revision if held is not None else None

    def expire(self) -> None:
        """Drop every lease not renewed within ``ttl - margin`` (reason ``"expired"``)."""
        now = self.clock()
        for name, held in list(self._held.items()):
            if now - held.renewed_at >= self.settings.valid_for:
                self._drop(name, held, "expired")

    def drop_all(self, reason: Literal["expired", "taken"]) -> None:
        """Stop counting any lease as held (each reported lost with ``reason``); the bucket's
        keys are left to expire (e.g. this node's membership lapsed: others take over)."""
        for name, held in list(self._held.items()):
            self._drop(name, held, reason)

    def _drop(self, name: str, held: _Held, reason: Literal["expired", "taken"]) -> None:
        if self._held.get(name) is not held:
            return
        del self._held[name]
        log.warning("%s lost its lease on %s (%s)", self.holder, name, reason)
        if self.on_lost is not None:
            self.on_lost(LeaseLoss(name, self.holder, reason, held.revision))

    # -- operations ----------------------------------------------------------------------------

    async def acquire(self, name: str) -> bool:
        """Take the lease on ``name`` if nobody holds it: True if this node holds it now.
        Raises :class:`ClusterUnavailable` if NATS does not answer."""
        if self.holds(name):
            return True
        for _ in range(2):
            sent = self.clock()
            with unavailable_as(f"acquiring the lease on {name}"):
                try:
                    revision = await self.kv.create(to_key(name), self._value)
                except KeyWrongLastSequenceError:
                    return False
                except KeyNotFoundError:
                    # nats-py's create found the key taken, then gone when it looked (it
                    # expired in between): try once more.
                    continue
            self._held[name] = _Held(revision, sent)
            return True
        return False

    async def state(self, name: str) -> Literal["held", "released", "free"]:
        """What the bucket says of ``name`` now: ``"held"`` by some node, ``"released"`` by its
        last holder (a delete marker, kept until the TTL), or ``"free"`` (never held, or it
        expired: its holder stopped renewing). Raises :class:`ClusterUnavailable`."""
        with unavailable_as(f"reading the lease on {name}"):
            try:
                await self.kv.get(to_key(name))
            except KeyDeletedError:
                return "released"
            except KeyNotFoundError as exc:
                # nats-py's get() re-raises a delete marker as KeyNotFoundError with its op set.
                return "released" if exc.op is not None else "free"
        return "held"

    async def release(self, name: str) -> None:
        """Give the lease up (graceful hand-over): dropped here first, then deleted in the
        bucket only if still at this node's revision. If NATS does not answer, the lease
        expires by its TTL instead (logged, not raised)."""
        held = self._held.pop(name, None)
        if held is None:
            return
        try:
            await self.kv.delete(to_key(name), last=held.revision)
        except UNAVAILABLE as exc:
            log.warning("%s could not release %s (%s): it expires by TTL", self.holder, name, exc)
        except APIError as exc:
            if exc.err_code not in _CAS_MISMATCH:
                raise
            log.info("%s released %s, which had already changed", self.holder, name)

    async def release_all(self) -> None:
        """Release every held lease, concurrently."""
        async with anyio.create_task_group() as tg:
            for name in list(self._held):
                tg.start_soon(self.release, name)

    async def owners(self) -> dict[str, str]:
        """Every live lease of the bucket: name -> holder. Raises :class:`ClusterUnavailable`.

        Read from the stream's subjects and one ``get`` per key (nats-py's ``keys()`` and
        ``watchall()`` can report an empty bucket when a value arrives during their set-up).
        """
        prefix = f"$KV.{self.bucket}."
        found: dict[str, str] = {}
        with unavailable_as(f"listing bucket {self.bucket}"):
            info = await self.conn.js.stream_info(f"KV_{self.bucket}", subjects_filter=f"{prefix}>")
            for subject in info.state.subjects or {}:
                key = subject[len(prefix) :]
                try:
                    entry = await self.kv.get(key)
                except (KeyNotFoundError, KeyDeletedError):  # released or expired meanwhile
                    continue
                if entry.value:
                    found[from_key(key)] = _holder_of(entry.value)
        return found

    # -- renewal -------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Renew the held leases every ``renew_interval`` until cancelled (a cancelled
        renewal releases nothing: the leases expire by TTL)."""
        task_status.started()
        while True:
            await anyio.sleep(self.settings.renew_every)
            await self.renew()

    async def renew(self) -> None:
        """One renewal round: drop the expired leases FIRST, then renew the others
        concurrently, each bounded by the time it has left."""
        self.expire()
        async with anyio.create_task_group() as tg:
            for name, held in list(self._held.items()):
                tg.start_soon(self._renew, name, held)

    async def _renew(self, name: str, held: _Held) -> None:
        sent = self.clock()
        with anyio.move_on_after(held.renewed_at + self.settings.valid_for - sent):
            try:
                revision = await self.kv.update(to_key(name), self._value, last=held.revision)
            except KeyWrongLastSequenceError:
                await self._adopt_or_drop(name, held)
                return
            except nats.errors.Error as exc:  # no answer, or an error: retried until expiry
                log.info("%s could not renew %s (%s); retrying", self.holder, name, exc)
                return
            if self._held.get(name) is held:
                held.revision, held.renewed_at = revision, sent
                if self.on_renewed is not None:
                    self.on_renewed(name, revision)
        self.expire()

    async def _adopt_or_drop(self, name: str, held: _Held) -> None:
        """A renewal found another revision. If it is this node's own later write (an earlier
        renewal that succeeded but whose answer was lost), carry on from it; else drop."""
        try:
            entry = await self.kv.get(to_key(name))
        except Exception:  # gone, deleted, or no answer: not ours to keep
            entry = None
        ours = (
            entry is not None
            and entry.value is not None
            and entry.revision is not None
            and entry.revision > held.revision
            and _holder_of(entry.value) == self.holder
        )
        if ours and entry is not None and entry.revision is not None:
            held.revision = entry.revision  # renewed_at stays: the older, safer time
        else:
            self._drop(name, held, "taken")


def _holder_of(value: bytes) -> str:
    try:
        data: Any = json.loads(value)
        return str(data["holder"])
    except (ValueError, KeyError, TypeError):
        return "?"
