"""The actor the multi-process cluster tests declare: it records every message it handles.

Each instance appends one JSON line per handled message to ``<record_dir>/<node>.<pid>.jsonl``
(the node name comes from ``$LETTA_ACTORS_NODE``, which the harness sets for each daemon), with one
``os.write`` on a file opened ``O_APPEND``: a line written is in the kernel's page cache at
once, so it survives a SIGKILL of the process, and lines of several instances never mix.

A line: ``node``, ``pid``, ``actor``, ``key`` (the message's ``"k"``), ``id`` (the envelope's
id), ``attempt``, and ``start`` / ``end``: nanoseconds of ``CLOCK_BOOTTIME``, a clock every
process of the machine shares and that keeps counting while a process is SIGSTOPped (the one
the leases count on). Handling takes ``work`` seconds (an ``anyio.sleep``, as a Letta call
would wait). With ``hold``, a message ``{"k": ..., "hold": true}`` is recorded as ``held`` at
its start and never finishes: the messages after it stay queued.

Asked ``"where"``, it answers its node's name (nothing recorded).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import anyio

from letta_actors import Actor

#: The variable naming the node a daemon runs as (the harness sets it along with ``--node``).
NODE_VAR = "LETTA_ACTORS_NODE"


def now_ns() -> int:
    """``CLOCK_BOOTTIME`` in nanoseconds: comparable across the processes of one machine."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


class Recording(Actor):
    """Records each handled ``{"k": key}`` message as a line (see the module docstring)."""

    def __init__(self, record_dir: str, work: float = 0.0, hold: bool = False) -> None:
        self.node = os.environ.get(NODE_VAR, "?")
        self.path = os.path.join(record_dir, f"{self.node}.{os.getpid()}.jsonl")
        self.work = work
        self.hold = hold
        self.fd = -1

    async def on_start(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    async def on_stop(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _write(self, line: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(line) + "\n").encode())

    async def receive(self, message: Any) -> Any:
        if message == "where":
            return self.node
        start = now_ns()
        envelope = self.envelope
        line: dict[str, Any] = {
            "node": self.node,
            "pid": os.getpid(),
            "actor": self.name,
            "key": message.get("k") if isinstance(message, dict) else message,
            "id": str(envelope.id) if envelope is not None else None,
            "attempt": envelope.attempt if envelope is not None else 1,
            "start": start,
        }
        if self.hold and isinstance(message, dict) and message.get("hold"):
            self._write({**line, "held": True})
            await anyio.sleep_forever()
        if self.work > 0:
            await anyio.sleep(self.work)
        self._write({**line, "end": now_ns()})
        return self.node
