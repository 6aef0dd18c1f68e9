"""A node's workflow run records, kept in a JetStream key-value bucket (``<prefix>_runs``).

The same three calls as the lone daemon's SQLite store (``runs``, ``save_run``,
``forget_run``), so the team's run list is kept the same way: each node writes its own runs
under its name (``<node>.<run id>``) and, when it starts again under that name, reads them
back (those still ``running`` are then marked interrupted by the team). Writes are queued and
sent in order by :meth:`ClusterRunRecords.run`; while NATS is away they wait and are sent once
it is back. A record larger than the server's max payload is not kept (logged).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from typing import Any

import anyio
import nats.errors
from anyio.abc import TaskStatus
from nats.js.errors import BucketNotFoundError, KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue

from ._connection import ClusterConnection
from ._keys import to_key
from ._leases import unavailable_as

log = logging.getLogger("letta_actors.cluster")


class ClusterRunRecords:
    """The run records of the node ``conn.settings.node`` (see the module docstring)."""

    def __init__(self, conn: ClusterConnection) -> None:
        self.conn = conn
        self.bucket = f"{conn.settings.bucket_prefix}_runs"
        self.prefix = f"{to_key(conn.settings.node)}."
        self._kv: KeyValue | None = None
        self._writes: deque[tuple[str, bytes | None]] = deque()
        self._wanted = anyio.Event()
        self._idle = anyio.Event()
        self._idle.set()

    async def open(self) -> None:
        """Bind to the bucket, creating it if absent. Raises ClusterUnavailable."""
        js = self.conn.js
        with unavailable_as(f"opening bucket {self.bucket}"):
            try:
                self._kv = await js.key_value(self.bucket)
            except BucketNotFoundError:
                self._kv = await js.create_key_value(bucket=self.bucket, history=1)

    @property
    def kv(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("ClusterRunRecords.open was not called")
        return self._kv

    async def runs(self) -> list[dict[str, Any]]:
        """This node's saved run records, oldest start first. Raises ClusterUnavailable."""
        subjects = f"$KV.{self.bucket}."
        found: list[tuple[float, dict[str, Any]]] = []
        with unavailable_as(f"reading bucket {self.bucket}"):
            info = await self.conn.js.stream_info(
                f"KV_{self.bucket}", subjects_filter=f"{subjects}{self.prefix}>"
            )
            for subject in info.state.subjects or {}:
                try:
                    entry = await self.kv.get(subject[len(subjects) :])
                except (KeyNotFoundError, KeyDeletedError):
                    continue
                if entry.value:
                    record = json.loads(entry.value)
                    found.append((record["started_at"], record["data"]))
        found.sort(key=lambda item: item[0])
        return [data for _, data in found]

    def _key(self, run_id: str) -> str:
        return self.prefix + to_key(run_id)

    def save_run(self, run_id: str, started_at: float, data: dict[str, Any]) -> None:
        """Write (or replace) a run's record, soon (``data`` must be JSON)."""
        value = json.dumps({"started_at": started_at, "data": data}).encode()
        self._enqueue(self._key(run_id), value)

    def forget_run(self, run_id: str) -> None:
        """Delete a run's record, soon."""
        self._enqueue(self._key(run_id), None)

    def _enqueue(self, key: str, value: bytes | None) -> None:
        self._writes.append((key, value))
        self._idle = anyio.Event() if self._idle.is_set() else self._idle
        self._wanted.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Send the queued writes in order until cancelled; NATS away: try again every
        ``reconnect_wait``."""
        task_status.started()
        while True:
            await self._wanted.wait()
            self._wanted = anyio.Event()
            while self._writes:
                key, value = self._writes[0]
                try:
                    if value is None:
                        await self.kv.delete(key)
                    else:
                        await self.kv.put(key, value)
                except (nats.errors.MaxPayloadError, ValueError) as exc:
                    log.warning("run record %s not kept in %s: %s", key, self.bucket, exc)
                except nats.errors.Error as exc:  # NATS away: keep it, try again
                    log.info("run record %s not written yet (%s)", key, exc)
                    await anyio.sleep(self.conn.settings.reconnect_wait)
                    continue
                self._writes.popleft()
            self._idle.set()

    async def flush(self) -> None:
        """Wait until every queued write was sent (bound it with a cancel scope)."""
        await self._idle.wait()
