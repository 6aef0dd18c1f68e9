"""Section ``spawn``: time and memory per idle actor, with bare idle tasks as the baseline.

Each sample runs in a fresh child process (``python -m benchmarks._spawn_child``) so
the RSS delta is not blurred by memory earlier sections left in the allocator. Mode
``plain`` times the spawns and reads the RSS delta; mode ``traced`` reads tracemalloc's
traced-bytes delta (tracemalloc slows allocation and adds its own RSS, so never both).
Every actor or task is still alive, idle, when memory is read.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from benchmarks._core import (
    Measurement,
    RunConfig,
    SectionResult,
    Target,
    available,
    repeat,
    section,
)

KIND_SUBJECTS = {
    "asyncio-tasks": "bare asyncio tasks (Event.wait)",
    "trio-tasks": "bare trio tasks (Event.wait)",
    "letta-asyncio": "letta_actors (asyncio)",
    "letta-trio": "letta_actors (trio)",
}
KIND_BACKEND = {
    "asyncio-tasks": "asyncio",
    "trio-tasks": "trio",
    "letta-asyncio": "asyncio",
    "letta-trio": "trio",
}
BASELINE_KIND = "asyncio-tasks"


def rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


class _Probe:
    """Reads the chosen memory gauge and the clock around the spawning of ``n`` idle things."""

    def __init__(self, traced: bool) -> None:
        self.traced = traced
        self.seconds = 0.0
        self.delta = 0

    def _memory(self) -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0] if self.traced else rss_bytes()

    async def measure(self, spawn_all: Callable[[], Awaitable[None]]) -> None:
        if self.traced:
            tracemalloc.start()
        before = self._memory()
        start = time.perf_counter()
        await spawn_all()
        self.seconds = time.perf_counter() - start
        for _ in range(3):  # let every new task reach its first suspension point
            await anyio.sleep(0.01)
        self.delta = self._memory() - before
        if self.traced:
            tracemalloc.stop()


async def _raw_asyncio_tasks(n: int, probe: _Probe) -> None:
    """``n`` plain ``asyncio.create_task`` tasks parked on one ``asyncio.Event``."""
    import asyncio

    event = asyncio.Event()
    tasks = [asyncio.create_task(event.wait())]

    async def spawn_all() -> None:
        tasks.extend(asyncio.create_task(event.wait()) for _ in range(n))

    await probe.measure(spawn_all)
    event.set()
    await asyncio.gather(*tasks)


async def _raw_trio_tasks(n: int, probe: _Probe) -> None:
    """``n`` plain trio nursery tasks parked on one ``trio.Event``."""
    import trio

    event = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(event.wait)

        async def spawn_all() -> None:
            for _ in range(n):
                nursery.start_soon(event.wait)

        await probe.measure(spawn_all)
        event.set()


async def _letta(n: int, probe: _Probe) -> None:
    """``n`` letta_actors actors with the default mailbox, spawned one after the other."""
    from benchmarks._letta import ActorSystem, Echo

    refs: list[Any] = []
    async with ActorSystem() as system:
        await system.spawn(Echo, name="warm-up")

        async def spawn_all() -> None:
            refs.extend([await system.spawn(Echo, name=f"idle-{i}") for i in range(n)])

        await probe.measure(spawn_all)


def child(kind: str, n: int, mode: str) -> dict[str, float]:
    """Run one sample in this process and return its figures."""
    probe = _Probe(traced=mode == "traced")
    body = {
        "asyncio-tasks": _raw_asyncio_tasks,
        "trio-tasks": _raw_trio_tasks,
        "letta-asyncio": _letta,
        "letta-trio": _letta,
    }[kind]
    anyio.run(body, n, probe, backend=KIND_BACKEND[kind])
    return {"seconds": probe.seconds, "delta_bytes": float(probe.delta)}


def _sample(kind: str, n: int, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks._spawn_child", kind, str(n), mode],
        cwd=Path(__file__).resolve().parent.parent,  # the checkout that holds benchmarks/
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"child exited {out.returncode}: {tail[0]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _plain(kind: str, n: int) -> tuple[float, float]:
    """(us per spawn, RSS KB per actor) from one untraced child."""
    sample = _sample(kind, n, "plain")
    return sample["seconds"] / n * 1e6, sample["delta_bytes"] / n / 1024


def _traced(kind: str, n: int) -> tuple[float]:
    """(traced KB per actor,) from one child under tracemalloc."""
    return (_sample(kind, n, "traced")["delta_bytes"] / n / 1024,)


@section("spawn", "spawn 10,000 idle actors (time and memory per actor)")
def run(cfg: RunConfig) -> SectionResult:
    """Measure spawn cost and resident memory per idle actor against bare tasks."""
    n = cfg.size(10_000, 500)
    # Each sample is a process start; memory barely moves between runs.
    plain_cfg = RunConfig(quick=cfg.quick, repeats=min(cfg.repeats, 3))
    traced_cfg = RunConfig(quick=cfg.quick, repeats=1)
    rows: list[Measurement] = []
    for kind, subject in KIND_SUBJECTS.items():
        base = kind == BASELINE_KIND
        spawn_time = Measurement(subject, "spawn time", "us/actor", "lower", baseline=base)
        traced = Measurement(subject, "memory (tracemalloc)", "KB/actor", "lower", baseline=base)
        rss = Measurement(subject, "memory (RSS)", "KB/actor", "lower", baseline=base)
        spawn_time.note = f"{n:,} alive at once"
        traced.note = "1 sample: exact and repeatable, but slow under tracing"
        if KIND_BACKEND[kind] == "trio" and not available("trio"):
            for m in (spawn_time, traced, rss):
                m.skipped = "trio not installed"
        else:
            repeat(plain_cfg, [spawn_time, rss], partial(_plain, kind, n), warmup=False)
            repeat(traced_cfg, [traced], partial(_traced, kind, n), warmup=False)
        rows += [spawn_time, traced, rss]
    memory_targets = [
        Target(
            f"letta_actors idle actor {metric} <= 10 KB",
            KIND_SUBJECTS["letta-asyncio"],
            metric,
            "<=",
            10.0,
            relative=False,
        )
        for metric in ("memory (tracemalloc)", "memory (RSS)")
    ]
    return SectionResult(
        measurements=rows,
        targets=memory_targets,
        notes=[
            "each sample is a fresh child process; RSS (and spawn time) and tracemalloc are "
            "read in separate runs",
            "RSS has page granularity and includes allocator slack; tracemalloc counts live "
            "Python allocations only",
        ],
    )
