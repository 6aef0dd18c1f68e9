"""Section ``metrics``: tell throughput with Prometheus metrics on vs. off, and scrape cost.

*Off* is the ``tell`` section's letta_actors workload as it is. *On* is the same plus
``SystemMetrics(system)`` serving its standalone HTTP endpoint in the system's event loop
while a separate process (:mod:`benchmarks._scraper`, a stand-in for Prometheus: kept-alive
HTTP/1.1, OpenMetrics, gzip) GETs ``/metrics`` every ``SCRAPE_INTERVAL`` seconds for the
whole run; the clock starts after its first scrape. Off and on take turns round by round.

The scrape cost is measured on a system of 1,000 actors (each has handled 2 messages), with
per-actor labels and with group labels: ``metrics.scrape()`` in the loop (collect and encode
the text format, no gzip) and an HTTP GET from the scraper process, end to end.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS

from benchmarks._core import (
    Measurement,
    RunConfig,
    Sampler,
    SectionResult,
    Target,
    available,
    interleave,
    ratio,
    repeat,
    section,
)

CAPACITY = 1000
PAYLOAD = "msg"
SCRAPE_INTERVAL = 0.05
N_ACTORS = 1000
ROOT = Path(__file__).resolve().parent.parent  # the checkout that holds benchmarks/

OFF_ASYNCIO = "letta_actors (asyncio), metrics off"
ON_ASYNCIO = "letta_actors (asyncio), metrics on + scraped"
OFF_TRIO = "letta_actors (trio), metrics off"
ON_TRIO = "letta_actors (trio), metrics on + scraped"


def _scraper_argv(url: str, mode: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks._scraper", url, mode]


async def _tell(n: int, metrics_on: bool, scrapes: list[int], scrape_ms: list[float]) -> float:
    """msg/s of ``n`` tells to a no-op actor; with metrics on, scraped all along."""
    from benchmarks._letta import ActorSystem, Echo, MailboxConfig
    from letta_actors.metrics import SystemMetrics

    async def load(system: Any) -> float:
        ref = system.ref("sink")
        start = time.perf_counter()
        for _ in range(n):
            await ref.tell(PAYLOAD)
        await ref.ask(PAYLOAD, timeout=60.0)
        return n / (time.perf_counter() - start)

    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="sink", mailbox=MailboxConfig(capacity=CAPACITY))
        await ref.ask(PAYLOAD, timeout=10.0)
        if not metrics_on:
            return await load(system)
        with SystemMetrics(system) as metrics:
            async with (
                metrics.serving() as server,
                await anyio.open_process(
                    _scraper_argv(server.url, str(SCRAPE_INTERVAL)), cwd=ROOT
                ) as scraper,
            ):
                assert scraper.stdout is not None and scraper.stdin is not None
                out = BufferedByteReceiveStream(scraper.stdout)
                ready = await out.receive_until(b"\n", 1000)
                if ready != b"ready":
                    raise RuntimeError(f"scraper did not start: {ready!r}")
                rate = await load(system)
                per_scrape = []  # the loop time one scrape of this system takes
                for _ in range(20):
                    start = time.perf_counter()
                    metrics.render(OPENMETRICS, "gzip")
                    per_scrape.append((time.perf_counter() - start) * 1000)
                scrape_ms.append(statistics.median(per_scrape))
                await scraper.stdin.aclose()
                report = await out.receive_until(b"\n", 10_000_000)
                scrapes.append(json.loads(report)["scrapes"])
        return rate


def _scrape_cost(
    labels: Literal["actor", "group"], actors: int, k: int
) -> tuple[float, float, float]:
    """(scrape() median ms, HTTP GET median ms, body KB) over ``k`` scrapes of each kind."""
    return anyio.run(_scrape_cost_async, labels, actors, k, backend="asyncio")


async def _scrape_cost_async(
    labels: Literal["actor", "group"], actors: int, k: int
) -> tuple[float, float, float]:
    from benchmarks._letta import ActorSystem, Echo
    from letta_actors.metrics import SystemMetrics

    async with ActorSystem() as system:
        refs = [await system.spawn(Echo, name=f"w{i}") for i in range(actors)]
        for ref in refs:
            await ref.tell(PAYLOAD)
        for ref in refs:
            await ref.ask(PAYLOAD, timeout=30.0)
        with SystemMetrics(system, labels=labels) as metrics:
            metrics.scrape()
            inline: list[float] = []
            for _ in range(k):
                start = time.perf_counter()
                body = metrics.scrape()
                inline.append((time.perf_counter() - start) * 1000)
            async with metrics.serving() as server:
                done = await anyio.run_process(_scraper_argv(server.url, f"x{k}"), cwd=ROOT)
            http: list[float] = json.loads(done.stdout.decode().splitlines()[-1])["ms"]
        return statistics.median(inline), statistics.median(http), len(body) / 1024


@section("metrics", "tell throughput, Prometheus metrics on vs. off; scrape cost, 1,000 actors")
def run(cfg: RunConfig) -> SectionResult:
    """Off/on throughput taking turns per backend, then the cost of a 1,000-actor scrape."""
    n = cfg.size(200_000, 2_000)
    scrapes: dict[str, list[int]] = {ON_ASYNCIO: [], ON_TRIO: []}
    scrape_ms: dict[str, list[float]] = {ON_ASYNCIO: [], ON_TRIO: []}

    def on(backend: str, fn: Callable[..., Awaitable[float]], *args: Any) -> Sampler:
        return lambda: (anyio.run(fn, *args, backend=backend),)

    def rate(subject: str, baseline: bool = False) -> Measurement:
        return Measurement(
            subject, "throughput", "msg/s", "higher", baseline=baseline, note=f"{n:,} msgs"
        )

    off_a, on_a = rate(OFF_ASYNCIO, baseline=True), rate(ON_ASYNCIO)
    off_t, on_t = rate(OFF_TRIO), rate(ON_TRIO)
    plan: list[tuple[list[Measurement], Sampler]] = [
        ([off_a], on("asyncio", _tell, n, False, [], [])),
        ([on_a], on("asyncio", _tell, n, True, scrapes[ON_ASYNCIO], scrape_ms[ON_ASYNCIO])),
    ]
    if available("trio"):
        plan += [
            ([off_t], on("trio", _tell, n, False, [], [])),
            ([on_t], on("trio", _tell, n, True, scrapes[ON_TRIO], scrape_ms[ON_TRIO])),
        ]
    else:
        off_t.skipped = on_t.skipped = "trio not installed"
    interleave(cfg, plan)
    for m in (on_a, on_t):
        if scrapes[m.subject]:
            m.note += (
                f"; {statistics.median(scrapes[m.subject]):.0f} scrapes per run, "
                f"{statistics.median(scrape_ms[m.subject]):.2f} ms of loop each (medians)"
            )
    vs_off = ratio(on_t, off_t, paired=True)
    if vs_off is not None:
        on_t.note += f"; {vs_off:.2f}x trio off"

    k = cfg.size(15, 2)
    actors = cfg.size(N_ACTORS, 200)
    cost_cfg = RunConfig(quick=cfg.quick, repeats=min(cfg.repeats, 3))
    cost: list[Measurement] = []
    for labels in ("actor", "group"):
        subject = f"scrape of {actors:,} actors, labels={labels}"
        rows = [
            Measurement(subject, "scrape() median", "ms", "lower", note=f"{k} scrapes, in loop"),
            Measurement(subject, "HTTP GET median", "ms", "lower", note=f"{k} GETs, gzip"),
            Measurement(subject, "body", "KB", "lower", note="text format, uncompressed"),
        ]
        repeat(cost_cfg, rows, partial(_scrape_cost, labels, actors, k), warmup=False)
        cost += rows

    return SectionResult(
        measurements=[off_a, on_a, off_t, on_t, *cost],
        targets=[
            Target(
                "letta_actors asyncio tell, metrics on + scraped >= 0.9x metrics off",
                ON_ASYNCIO,
                "throughput",
                ">=",
                0.9,
                relative=True,
            )
        ],
        paired=True,
        notes=[
            f"metrics on: the standalone endpoint in the same loop, GET /metrics every "
            f"{SCRAPE_INTERVAL * 1000:.0f} ms (300x Prometheus' default 15 s) by a separate "
            "process (OpenMetrics, gzip, keep-alive), from before the clock starts to the end",
            "HTTP GET: client-side wall time from the scraper process (collect, encode, gzip, "
            "transfer, un-gzip); scrape(): collect + text encode in the loop, no gzip",
            f"scrape cost: {actors:,} Echo actors that handled 2 messages each, asyncio; a "
            "fresh system per sample, at most 3 samples",
        ],
    )
