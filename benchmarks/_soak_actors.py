"""The Python agents of the soak team (``benchmarks/soak.py`` declares them in its team file).

- :class:`Worker` answers ``{"n": ..}`` with ``{"n": .., "ok": true}`` and crashes (raises, so
  its supervisor restarts it) when the message says ``"crash": true``.
- :class:`Probe` reports, from inside the daemon, what the soak cannot see from ``/proc``:
  ``"tasks"`` gives the live asyncio tasks, the dead-letter log's length and the memory blocks
  Python has allocated (flat when nothing is kept, whatever the allocator does with RSS);
  ``"census"`` also
  gives the number of objects the garbage collector tracks and the most common types, and
  when tracemalloc traces (``PYTHONTRACEMALLOC=1``) the source lines whose allocations grew
  most since the first census.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import tracemalloc
from collections import Counter
from typing import Any

from letta_actors import Actor


class SoakCrash(RuntimeError):
    """The crash a soak ask asked for."""


class Worker(Actor):
    """Answers with the message's ``n``; raises :class:`SoakCrash` when asked to crash."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, dict) and message.get("crash"):
            raise SoakCrash(f"asked to crash ({message.get('n')})")
        return {"n": message.get("n") if isinstance(message, dict) else None, "ok": True}


def census(top: int = 25) -> dict[str, Any]:
    """Objects the garbage collector tracks, in all and for the ``top`` most common types."""
    gc.collect()
    objects = gc.get_objects()
    types = Counter(type(o).__qualname__ for o in objects)
    return {"objects": len(objects), "types": dict(types.most_common(top))}


def grown(first: tracemalloc.Snapshot, top: int = 15) -> list[str]:
    """The ``top`` source lines whose live allocations grew most since ``first``."""
    stats = tracemalloc.take_snapshot().compare_to(first, "lineno")
    return [str(s) for s in sorted(stats, key=lambda s: -s.size_diff)[:top]]


class Probe(Actor):
    """Reports the daemon's tasks and threads (and, for ``"census"``, its objects)."""

    def __init__(self) -> None:
        self.first: tracemalloc.Snapshot | None = None

    async def receive(self, message: Any) -> Any:
        try:
            tasks: int | None = len(asyncio.all_tasks())
        except RuntimeError:  # not on asyncio
            tasks = None
        report: dict[str, Any] = {
            "tasks": tasks,
            "threads": threading.active_count(),
            "dead_letters_kept": len(list(self.system.dead_letters)),
            "py_blocks": sys.getallocatedblocks(),
        }
        if message == "census":
            report.update(census())
            if tracemalloc.is_tracing():
                if self.first is None:
                    self.first = tracemalloc.take_snapshot()
                report["grown"] = grown(self.first)
        return report
