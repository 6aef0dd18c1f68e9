"""``python -m benchmarks.profile_cluster WORKLOAD``: where a cluster_remote subject's time goes.

Starts a local nats-server and nodes a and b as the ``cluster_remote`` section does, runs the
subject once unprofiled (warm-up), then once under cProfile, and prints the figures it
measured (slowed by the profiler) and the top of the profile. Both nodes, nats-py's reader
and flusher tasks and the actors all run in the one profiled thread. The ``raw-*`` workloads
are the section's nats-py baselines, for comparison. The figures themselves come from
``python -m benchmarks --only cluster_remote``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from benchmarks.cluster_baseline import core_publish, request_round_trip
from benchmarks.cluster_remote import (
    SENDERS,
    Bench,
    cluster,
    durable_tell,
    jetstream_publishers,
    mailbox_pattern,
    remote_ask,
    remote_tell,
)

Workload = Callable[[Bench, int], Awaitable[list[float]]]

#: ``python -m benchmarks.profile_cluster WORKLOAD``: the subjects, by a short name.
WORKLOADS: dict[str, tuple[Workload, int]] = {
    "tell": (remote_tell, 100_000),
    "ask": (remote_ask, 5_000),
    "durable": (partial(durable_tell, senders=1), 2_000),
    "durable-many": (partial(durable_tell, senders=SENDERS), 10_000),
    "raw-core": (lambda bench, n: core_publish(bench.url, n), 100_000),
    "raw-request": (lambda bench, n: request_round_trip(bench.url, n), 5_000),
    "raw-js": (lambda bench, n: jetstream_publishers(bench.url, n, 1), 2_000),
    "raw-js-many": (lambda bench, n: jetstream_publishers(bench.url, n, SENDERS), 10_000),
    "raw-pattern": (lambda bench, n: mailbox_pattern(bench.url, n, 1), 2_000),
    "raw-pattern-many": (lambda bench, n: mailbox_pattern(bench.url, n, SENDERS), 10_000),
}


async def _profile(workload: Workload, n: int, profiler: cProfile.Profile) -> list[float]:
    """Start the cluster, run ``workload`` once unprofiled (warm-up), then once profiled."""
    from letta_actors.cluster import LocalNatsServer

    with tempfile.TemporaryDirectory(prefix="bench-remote-") as tmp:
        server = LocalNatsServer(Path(tmp))
        server.start()
        try:
            async with cluster(server.url) as bench:
                await workload(bench, n)
                profiler.enable()
                figures = await workload(bench, n)
                profiler.disable()
        finally:
            server.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    """Profile one subject with cProfile (both nodes and nats-py run in the profiled thread)."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.profile_cluster",
        description="cProfile of one cluster_remote subject; the figures themselves come "
        "from python -m benchmarks --only cluster_remote",
    )
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("-n", type=int, help="messages / round trips")
    p.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime")
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    workload, default_n = WORKLOADS[args.workload]
    profiler = cProfile.Profile()
    figures = asyncio.run(_profile(workload, args.n or default_n, profiler))
    print(f"{args.workload}: {', '.join(f'{f:,.1f}' for f in figures)} (under cProfile)")
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
