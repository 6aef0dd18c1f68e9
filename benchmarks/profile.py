"""``python -m benchmarks.profile tell|ask|spawn|restart|metrics``: where the time goes.

Runs one letta_actors workload of the benchmarks under cProfile and prints the functions
with the most own time (``--sort cumulative`` for inclusive time); with ``--memory`` it
runs ``spawn`` under tracemalloc instead and prints the allocation sites of the idle
actors, per actor. ``restart`` is ``n`` crash-and-probe cycles under NO_BACKOFF;
``metrics`` is the tell workload with metrics on and scraped over HTTP. For finding the
cost behind a missed target; the figures themselves come from ``python -m benchmarks``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from benchmarks import ask, metrics, restart, spawn, tell


async def _spawn(n: int) -> None:
    await spawn._letta(n, spawn._Probe(traced=False))


async def _restart(n: int) -> None:
    with restart._quiet_supervisors():
        await restart.no_backoff(n, 0)


async def _metrics_on(n: int) -> None:
    await metrics._tell(n, True, [], [])


class _SiteProbe(spawn._Probe):
    """Takes tracemalloc snapshots around the spawns and prints the biggest growth by line."""

    def __init__(self, top: int) -> None:
        super().__init__(traced=False)
        self.top = top

    async def measure(self, spawn_all: Callable[[], Awaitable[None]]) -> None:
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        await spawn_all()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        n = WORKLOADS["spawn"][1] if self.n is None else self.n
        stats = after.compare_to(before, "lineno")
        total = sum(s.size_diff for s in stats)
        print(f"traced growth: {total / n / 1024:.2f} KB/actor over {n:,} actors")
        for stat in stats[: self.top]:
            frame = stat.traceback[0]
            print(
                f"{stat.size_diff / n:8.0f} B/actor {stat.count_diff / n:6.2f} blocks/actor  "
                f"{frame.filename}:{frame.lineno}"
            )

    n: int | None = None


def _memory_sites(n: int, top: int, backend: str) -> None:
    probe = _SiteProbe(top)
    probe.n = n
    anyio.run(spawn._letta, n, probe, backend=backend)


WORKLOADS: dict[str, tuple[Callable[[int], Awaitable[Any]], int]] = {
    "tell": (tell.letta, 200_000),
    "ask": (ask.letta, 20_000),
    "spawn": (_spawn, 10_000),
    "restart": (_restart, 2_000),
    "metrics": (_metrics_on, 200_000),
}


def main(argv: list[str] | None = None) -> int:
    """Profile one workload and print the top of the profile."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    p.add_argument("-n", type=int, help="messages / round trips / actors")
    p.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--memory", action="store_true", help="spawn only: allocation sites")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    fn, default_n = WORKLOADS[args.workload]
    if args.memory:
        if args.workload != "spawn":
            p.error("--memory profiles the spawn workload only")
        _memory_sites(args.n or default_n, args.top, args.backend)
        return 0
    profiler = cProfile.Profile()
    profiler.enable()
    anyio.run(fn, args.n or default_n, backend=args.backend)
    profiler.disable()
    pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
