"""``python -m benchmarks.scale_ab REV``: the metrics collector of revision REV against this one.

Both collectors (and their families) run in one process on one system of ``--actors`` Echo
actors, taking turns scrape by scrape, so a slow phase of the machine hits both alike: the
figures are the median over ``--scrapes`` pairs, and the ratio is the median of the per-pair
ratios. REV's ``letta_actors/metrics/_collector.py`` and ``_family.py`` are read with ``git
show`` and loaded next to this checkout's runtime (they must fit its actors and stats).

A scrape is what the endpoint's loop does for group labels, and its CPU work for actor labels:
``collect()`` then the OpenMetrics encoding. Measured: the loop thread's CPU time of
``collect()`` and of the whole scrape, and the full (generation 2) garbage collections that ran
during it. ``--churn N`` stops N actors and spawns N new ones before every pair of scrapes.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = "msg"


def load_revision(rev: str) -> tuple[Any, Callable[..., bytes]]:
    """REV's ``SystemCollector`` class and ``encode`` function, loaded as sibling modules."""
    modules: dict[str, types.ModuleType] = {}
    for name in ("_family", "_collector"):
        source = subprocess.run(
            ["git", "show", f"{rev}:letta_actors/metrics/{name}.py"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        source = source.replace("from ._family import", "from ._ab_family import")
        full = f"letta_actors.metrics._ab{name}"
        spec = importlib.util.spec_from_loader(full, loader=None)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        module.__package__ = "letta_actors.metrics"
        sys.modules[full] = module
        exec(compile(source, f"{rev}:{name}.py", "exec"), module.__dict__)
        modules[name] = module
    return modules["_collector"].SystemCollector, modules["_family"].encode


class Timed:
    """One collector's figures: CPU ms of collect() and of the whole scrape, full GCs."""

    def __init__(self, collector: Any, encode: Callable[..., bytes]) -> None:
        self.collector = collector
        self.encode = encode
        self.collect_ms: list[float] = []
        self.scrape_ms: list[float] = []
        self.full_gcs = 0

    def scrape(self, generations: list[int]) -> None:
        generations.clear()
        start = time.thread_time()
        families = self.collector.collect()
        collected = time.thread_time()
        self.encode(families, openmetrics, True)
        done = time.thread_time()
        self.collect_ms.append((collected - start) * 1000)
        self.scrape_ms.append((done - start) * 1000)
        self.full_gcs += generations.count(2)


def paired(before: list[float], after: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(after, before, strict=True) if b)


async def compare(rev: str, actors: int, scrapes: int, churn: int) -> list[str]:
    """The markdown rows: per label mode, REV against this checkout."""
    from benchmarks._letta import ActorSystem, Echo
    from letta_actors.metrics import SystemCollector
    from letta_actors.metrics._family import encode

    before_cls, before_encode = load_revision(rev)
    generations: list[int] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    gc.callbacks.append(on_gc)
    rows = []
    try:
        async with ActorSystem() as system:
            names = [f"w{i}" for i in range(actors)]
            refs = [await system.spawn(Echo, name=name) for name in names]
            for ref in refs:
                await ref.tell(PAYLOAD)
            for ref in refs:
                await ref.ask(PAYLOAD, timeout=60.0)
            fresh = 0
            for labels in ("group", "actor"):
                pair = [
                    Timed(before_cls(system, labels=labels), before_encode),
                    Timed(SystemCollector(system, labels=labels), encode),
                ]
                for timed in pair:
                    timed.collector.collect()  # first sight
                for i in range(scrapes):
                    for _ in range(churn):
                        await system.stop(names.pop(0))
                        names.append(f"fresh{fresh}")
                        fresh += 1
                        await system.spawn(Echo, name=names[-1])
                    for ref in refs[:200]:
                        await ref.tell(PAYLOAD)  # new counts between scrapes
                    for timed in pair if i % 2 else pair[::-1]:
                        timed.scrape(generations)
                for timed in pair:
                    close = getattr(timed.collector, "close", None)
                    if close is not None:
                        close()
                b, a = pair
                for metric in ("collect_ms", "scrape_ms"):
                    xb, xa = getattr(b, metric), getattr(a, metric)
                    rows.append(
                        f"| {labels} | {metric.removesuffix('_ms')} CPU | "
                        f"{statistics.median(xb):.1f} ms | {statistics.median(xa):.1f} ms | "
                        f"{paired(xb, xa):.2f}x |"
                    )
                rows.append(
                    f"| {labels} | full GCs during scrapes | {b.full_gcs} | {a.full_gcs} | |"
                )
    finally:
        gc.callbacks.remove(on_gc)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Compare and print a markdown table."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale_ab", description=__doc__)
    p.add_argument("rev", help="the git revision to compare with (e.g. main)")
    p.add_argument("--actors", type=int, default=10_000)
    p.add_argument("--scrapes", type=int, default=11, help="pairs of scrapes per label mode")
    p.add_argument("--churn", type=int, default=0, help="actors replaced before each pair")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    rows = anyio.run(compare, args.rev, args.actors, args.scrapes, args.churn)
    print(f"{args.actors:,} actors, {args.scrapes} scrapes each, churn {args.churn}, asyncio")
    print(f"\n| labels | figure | {args.rev} | this checkout | ratio (paired) |")
    print("| --- | --- | ---: | ---: | ---: |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
