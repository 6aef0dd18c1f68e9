"""The embedded store: one SQLite file (WAL), one writer, group commits off the event loop.

Every write (a stored message, an acknowledgement, a run record) joins a queue; one writer task
takes whatever is queued, commits it in one transaction in a worker thread
(``anyio.to_thread``), then wakes the callers waiting for it. Under load, many tells share one
commit; the event loop never blocks on the file. The file is locked for its one process
(``locking_mode=EXCLUSIVE``): a second process opening it gets :class:`StoreError`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Callable, Collection
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

import anyio
from anyio.abc import TaskGroup
from pydantic import BaseModel

from ..actors import Envelope, Mailbox, seconds
from ._codec import Codec
from ._mailbox import Mailboxes

if TYPE_CHECKING:
    from ..system import ActorSystem

log = logging.getLogger("letta_actors.durable")

Sync = Literal["normal", "full"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY, actor TEXT NOT NULL, envelope BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_actor ON messages (actor, seq);
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, started_at REAL NOT NULL, data TEXT NOT NULL);
"""


class StoreError(Exception):
    """The durable store failed: it cannot be opened (locked by another process, not a
    database), it is closed, or a write failed (the message was not stored)."""


@dataclasses.dataclass(slots=True)
class _Write:
    """One queued write; ``done`` (made only for writes someone waits on) is set once committed
    or failed (``error``)."""

    sql: str
    args: tuple[Any, ...]
    done: anyio.Event | None = None
    error: BaseException | None = None


_INSERT = "INSERT INTO messages (seq, actor, envelope) VALUES (?, ?, ?)"
_DELETE = "DELETE FROM messages WHERE seq = ? AND actor = ?"
_SAVE_RUN = "INSERT OR REPLACE INTO runs (id, started_at, data) VALUES (?, ?, ?)"
_FORGET_RUN = "DELETE FROM runs WHERE id = ?"


class DurableStore:
    """Durable mailboxes and run records in one SQLite file; ``async with DurableStore(path)``.

    - ``models``: pydantic models whose instances may be stored (also :attr:`codec`'s
      ``register``); other payloads must be plain JSON.
    - ``sync``: ``"normal"`` (default) keeps every commit across a crash of the process (SIGKILL,
      OOM kill); ``"full"`` also across a power loss or OS crash, with an ``fsync`` per commit.
    - ``ack_delay``: seconds an acknowledgement (or a run record) may wait for a stored message
      to share its commit (default 5 ms). A crash loses at most that much of them: those
      messages are delivered again.

    Entering opens (or creates) the file and starts the writer; leaving writes what is queued,
    then closes it. Raises :class:`StoreError` when the file is locked by another process or is
    not a database.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        models: Collection[type[BaseModel]] = (),
        sync: Sync = "normal",
        ack_delay: float = 0.005,
    ) -> None:
        if sync not in ("normal", "full"):
            raise ValueError(f"sync must be 'normal' or 'full', got {sync!r}")
        self.ack_delay = seconds(ack_delay, "ack_delay")
        self.path = Path(path)
        self.sync = sync
        self.codec = Codec(list(models))
        self._conn: sqlite3.Connection | None = None
        self._queue: list[_Write] = []
        self._urgent = False  # a write someone waits for is queued
        self._wake: anyio.Event | None = None
        self._tg: TaskGroup | None = None
        self._limiter: anyio.CapacityLimiter | None = None  # one user of the connection
        self._open = False
        self._next_seq = 1
        self._attached = False
        #: Random per store object (so per process): the ids it gives never collide with those
        #: an earlier process gave on this file (nor with those of another file).
        self.boot = secrets.token_hex(8)
        #: Commits made (each one a transaction of one or more writes): for benchmarks.
        self.commits = 0

    def __repr__(self) -> str:
        return f"<DurableStore {str(self.path)!r}>"

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._conn is not None or self._tg is not None:
            raise RuntimeError("a DurableStore can be entered only once at a time")
        self._limiter = anyio.CapacityLimiter(1)
        self._conn, last = await anyio.to_thread.run_sync(self._connect)
        self._next_seq = last + 1
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._open = True
        self._tg.start_soon(self._writer)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        self._poke()
        tg, self._tg = self._tg, None
        try:
            if tg is not None:
                await tg.__aexit__(None, None, None)  # the writer ends once the queue is written
        finally:
            with anyio.CancelScope(shield=True):  # cancelled: what is queued is written still
                if self._queue:
                    await self._write_queued()
                conn, self._conn = self._conn, None
                if conn is not None:
                    await anyio.to_thread.run_sync(conn.close, limiter=self._limiter)

    def _connect(self) -> tuple[sqlite3.Connection, int]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=2.0, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the durable store {str(self.path)!r}: {exc}") from exc
        try:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")  # before WAL: no shared memory
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.sync.upper()}")
            conn.execute("BEGIN EXCLUSIVE")  # takes the lock now, held until closed
            conn.executescript(_SCHEMA)  # commits
            row = conn.execute("SELECT max(seq) FROM messages").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            reason = (
                "it is in use by another process"
                if "locked" in str(exc)
                else f"{exc} (is it a letta-actors store?)"
            )
            raise StoreError(f"cannot open the durable store {str(self.path)!r}: {reason}") from exc
        return conn, int(row[0] or 0)

    # -- the writer -----------------------------------------------------------------------

    def _poke(self) -> None:
        wake = self._wake
        if wake is not None:
            self._wake = None
            wake.set()

    def _enqueue(self, write: _Write) -> None:
        if not self._open:
            raise StoreError(f"the durable store {str(self.path)!r} is closed")
        self._queue.append(write)
        if write.done is not None:
            self._urgent = True
        self._poke()

    async def _writer(self) -> None:
        while True:
            if not self._queue:
                if not self._open:
                    return
                await self._woken()
                continue
            if not self._urgent:
                # Nobody waits on these writes (acks, run records): give the next awaited one
                # a moment to join them (one commit for both), then write them anyway.
                with anyio.move_on_after(self.ack_delay):
                    while not self._urgent and self._open:
                        await self._woken()
            await self._write_queued()

    async def _woken(self) -> None:
        self._wake = anyio.Event()
        await self._wake.wait()

    async def _write_queued(self) -> None:
        """Commit what is queued in one transaction, then wake those waiting for it."""
        batch, self._queue = self._queue, []
        self._urgent = False
        error: BaseException | None = None
        try:
            await anyio.to_thread.run_sync(self._commit, batch, limiter=self._limiter)
        except Exception as exc:  # an I/O error, a full disk: each waiter raises it
            error = StoreError(f"durable store {str(self.path)!r}: write failed: {exc}")
            error.__cause__ = exc
            log.exception("%s", error)
        for write in batch:
            if write.done is not None:
                write.error = error
                write.done.set()

    def _commit(self, batch: list[_Write]) -> None:
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN")
        try:
            for write in batch:
                conn.execute(write.sql, write.args)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self.commits += 1

    async def _wait(self, write: _Write) -> None:
        assert write.done is not None
        await write.done.wait()
        if write.error is not None:
            raise write.error

    async def flush(self) -> None:
        """Wait until everything queued so far is committed (raises :class:`StoreError`)."""
        write = _Write("SELECT 1", (), anyio.Event())
        self._enqueue(write)
        await self._wait(write)

    async def _read(self, query: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``query`` after the writes queued so far (one connection, never two users)."""
        await self.flush()
        conn = self._conn
        if conn is None:
            raise StoreError(f"the durable store {str(self.path)!r} is closed")
        return await anyio.to_thread.run_sync(query, conn, limiter=self._limiter)

    # -- messages -------------------------------------------------------------------------

    def message_id(self, envelope: Envelope) -> str:
        """``envelope``'s id, made to outlive this process and set on it: a str id (the
        sender's ``message_id``) is kept, an int one (the system's counter, which starts again
        at 1 in each process) becomes ``"<boot>.<n>"`` (:attr:`boot` is random per store)."""
        ident = envelope.id
        if not isinstance(ident, str):
            ident = envelope.id = f"{self.boot}.{ident}"
        return ident

    def encode(self, envelope: Envelope) -> bytes:
        """The stored form of ``envelope``, once :meth:`message_id` gave it its lasting id (so
        the id a handler saw before a crash is the one it sees after); ``TypeError`` if its
        payload cannot be stored."""
        self.message_id(envelope)
        return self.codec.encode(envelope)

    async def append(self, actor: str, envelope: Envelope | bytes) -> int:
        """Store ``envelope`` (or its :meth:`encode`-d form) for ``actor``; returns its sequence
        number once committed. Raises ``TypeError`` (payload not storable, before anything is
        written) and :class:`StoreError`. Sequence numbers grow in call order."""
        data = envelope if isinstance(envelope, bytes) else self.encode(envelope)
        seq = self._next_seq
        write = _Write(_INSERT, (seq, actor, data), anyio.Event())
        self._enqueue(write)
        self._next_seq = seq + 1
        await self._wait(write)
        return seq

    def ack(self, actor: str, seq: int) -> None:
        """Forget message ``seq`` of ``actor`` (handled, or dead-lettered): written with the
        next commit, without waiting. Lost if the process dies first: the message is then
        delivered again (at-least-once). After the store closed it is only logged."""
        try:
            self._enqueue(_Write(_DELETE, (seq, actor)))
        except StoreError:
            log.warning("ack of message %d of %r after the store closed", seq, actor)

    async def pending(self, actor: str | None = None) -> list[tuple[int, Envelope]]:
        """Stored messages not acknowledged, oldest first: ``actor``'s, or every actor's."""
        if actor is None:
            rows = await self._read(
                lambda c: c.execute("SELECT seq, envelope FROM messages ORDER BY seq").fetchall()
            )
        else:
            rows = await self._read(
                lambda c: c.execute(
                    "SELECT seq, envelope FROM messages WHERE actor = ? ORDER BY seq", (actor,)
                ).fetchall()
            )
        return [(seq, self.codec.decode(data)) for seq, data in rows]

    async def attach(
        self, system: ActorSystem, actors: Collection[str] | Callable[[str], bool]
    ) -> None:
        """Give ``actors`` (names, or a test of a name) durable mailboxes in ``system``.

        Call it before entering the system's block. Each such actor gets, on its start, the
        messages stored for it and not acknowledged (oldest first, before any new message),
        with their stored id and marked ``attempt = max(stored attempt, 1) + 1``: the process
        that stored one may have handled it, or begun to, before it died.
        Raises ``RuntimeError`` when the system already runs or has a mailbox factory, or this
        store is attached already (one system per store); :class:`~._codec.DecodeError` when
        a stored message cannot be read (an unregistered model).
        """
        if self._attached:
            raise RuntimeError(f"{self!r} is attached to a system already (one per store)")
        if system.running or system.mailbox_factory is not Mailbox:
            raise RuntimeError(
                "attach the store before entering the system, to a system without another "
                "mailbox factory"
            )
        mailboxes = Mailboxes(self, actors)
        for seq, envelope in await self.pending():
            envelope.attempt = max(envelope.attempt, 1) + 1  # maybe delivered before
            mailboxes.keep(envelope.recipient, [(seq, envelope)])
        self._attached = True
        system.mailbox_factory = mailboxes
        unselected = [name for name in mailboxes.waiting() if not mailboxes.selects(name)]
        if unselected:
            log.warning(
                "%s: stored messages for %s, which get no durable mailbox: kept in the store",
                self.path, ", ".join(sorted(unselected)),
            )  # fmt: skip

    # -- run records ----------------------------------------------------------------------

    def save_run(self, run_id: str, started_at: float, data: dict[str, Any]) -> None:
        """Write (or replace) a run's record, with the next commit; ``data`` must be JSON."""
        self._enqueue(_Write(_SAVE_RUN, (run_id, started_at, json.dumps(data))))

    def forget_run(self, run_id: str) -> None:
        self._enqueue(_Write(_FORGET_RUN, (run_id,)))

    async def runs(self) -> list[dict[str, Any]]:
        """Every run record saved, oldest start first."""
        rows = await self._read(
            lambda c: c.execute("SELECT data FROM runs ORDER BY started_at, rowid").fetchall()
        )
        return [json.loads(data) for (data,) in rows]
