"""Durable tell vs in-memory tell, in the same run: ``python -m benchmarks.durable``.

One receiver (a no-op actor); the clock stops when it has handled the last message. Subjects:

- ``in-memory tell``: a plain mailbox (the bus's inlined append);
- ``durable tell, 1 sender``: each tell waits for its message's commit (SQLite, WAL,
  ``synchronous=NORMAL``), so one sender gets one commit per message;
- ``durable tell, 16 senders``: the same messages from 16 concurrent senders, whose appends
  share commits (the store's group commit);
- ``durable tell, 1 sender, sync=full``: an ``fsync`` per commit (survives a power loss);
- ``raw SQLite, commit per insert``: the baseline with the same batching as one sender — each
  message inserted and committed in a worker thread (``anyio.to_thread``), nothing else.

Figures are messages per second, the median of ``--repeats`` interleaved samples.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from letta_actors import Actor, ActorSystem, MailboxConfig
from letta_actors.durable import DurableStore, Sync

SENDERS = 16


class Sink(Actor):
    """Counts messages; sets ``done`` at the ``n``-th."""

    def __init__(self, n: int, done: anyio.Event) -> None:
        self.n, self.done, self.count = n, done, 0

    async def receive(self, message: Any) -> None:
        self.count += 1
        if self.count == self.n:
            self.done.set()


async def _tells(system: ActorSystem, n: int, senders: int) -> float:
    done = anyio.Event()
    ref = await system.spawn(lambda: Sink(n, done), name="sink",
                             mailbox=MailboxConfig(capacity=10_000))  # fmt: skip

    async def send(count: int) -> None:
        for i in range(count):
            await ref.tell(i)

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for k in range(senders):
            tg.start_soon(send, n // senders + (1 if k < n % senders else 0))
    await done.wait()
    return time.perf_counter() - start


async def in_memory(n: int, folder: Path) -> float:
    async with ActorSystem() as system:
        return await _tells(system, n, 1)


def durable(senders: int, sync: Sync = "normal") -> Callable[[int, Path], Awaitable[float]]:
    async def run(n: int, folder: Path) -> float:
        path = Path(tempfile.mkdtemp(dir=folder)) / "bench.db"
        async with DurableStore(path, sync=sync) as store:
            system = ActorSystem()
            await store.attach(system, ["sink"])
            async with system:
                return await _tells(system, n, senders)

    return run


async def raw_sqlite(n: int, folder: Path) -> float:
    path = Path(tempfile.mkdtemp(dir=folder)) / "raw.db"
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE m (seq INTEGER PRIMARY KEY, actor TEXT, envelope BLOB)")
    limiter = anyio.CapacityLimiter(1)

    def insert(seq: int) -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO m VALUES (?, ?, ?)", (seq, "sink", b'{"payload":1}'))
        conn.execute("COMMIT")

    try:
        start = time.perf_counter()
        for seq in range(n):
            await anyio.to_thread.run_sync(insert, seq, limiter=limiter)
        return time.perf_counter() - start
    finally:
        conn.close()


SUBJECTS: dict[str, Callable[[int, Path], Awaitable[float]]] = {
    "in-memory tell": in_memory,
    "durable tell, 1 sender": durable(1),
    f"durable tell, {SENDERS} senders": durable(SENDERS),
    "durable tell, 1 sender, sync=full": durable(1, "full"),
    "raw SQLite, commit per insert (1 sender)": raw_sqlite,
}


async def measure(n: int, repeats: int, folder: Path) -> dict[str, float]:
    """Messages per second of each subject: median of interleaved samples."""
    samples: dict[str, list[float]] = {name: [] for name in SUBJECTS}
    for _ in range(repeats):
        for name, subject in SUBJECTS.items():
            samples[name].append(n / await subject(n, folder))
    return {name: statistics.median(rates) for name, rates in samples.items()}


def table(rates: dict[str, float]) -> str:
    memory = rates["in-memory tell"]
    raw = rates["raw SQLite, commit per insert (1 sender)"]
    lines = ["| subject | messages/s | vs in-memory | vs raw SQLite |", "|---|---:|---:|---:|"]
    for name, rate in rates.items():
        lines.append(f"| {name} | {rate:,.0f} | {rate / memory:.3f}x | {rate / raw:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.durable", description=__doc__)
    parser.add_argument("--messages", type=int, default=5000, help="per sample (default 5000)")
    parser.add_argument("--repeats", type=int, default=5, help="samples per subject (default 5)")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--quick", action="store_true", help="300 messages, one sample")
    args = parser.parse_args(argv)
    n, repeats = (300, 1) if args.quick else (args.messages, args.repeats)
    with tempfile.TemporaryDirectory(prefix="durable-bench-") as folder:
        rates = anyio.run(measure, n, repeats, Path(folder), backend=args.backend)
    print(f"{n} messages, median of {repeats}, {args.backend}\n")
    print(table(rates))


if __name__ == "__main__":
    main()
