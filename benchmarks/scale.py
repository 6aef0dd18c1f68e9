"""Section ``scale``: a long-running daemon with 10,000 actors, scraped by Prometheus.

A system of ``N_ACTORS`` Echo actors under a steady load (``LOAD_RATE`` tells a second to
random actors, sent in small batches every 10 ms) while a ticker task measures the event
loop: it sleeps ``TICK`` in a loop and records how late it wakes.

- **Loop stall per scrape** (group labels, then actor labels): the longest lateness of the
  ticker while one scrape runs, i.e. the longest time one scrape keeps the loop from running
  anything else. The scrape is what both endpoints do (:func:`letta_actors.metrics.respond`:
  collect in the loop, encode and gzip in a worker thread when large; OpenMetrics). Each scrape
  window is paired with an equally long quiet window without a scrape, whose lateness is the
  noise floor of the machine. ``collect()`` is also timed on its own: it is the part that runs
  synchronously in the loop.
- **Soak** (group labels): the same system served by the standalone endpoint, GET every
  ``SCRAPE_INTERVAL`` s by a separate process (:mod:`benchmarks._scraper`), with the load and
  ``CHURN`` actors stopped and replaced by new ones every second, for ``--seconds`` (default
  600). RSS is sampled every second; growth compares the median RSS of the first
  ``RSS_WINDOW`` of the samples after the warm-up with that of the last ``RSS_WINDOW``.

Run as a section of ``python -m benchmarks`` (``--quick``: 300 actors, a 3 s soak) or on its
own with other sizes: ``python -m benchmarks.scale_cli --seconds 600`` (``--seconds 0``: no
soak).
"""

from __future__ import annotations

import gc
import json
import random
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS

from benchmarks._core import Measurement, RunConfig, SectionResult, Target, percentile, section

N_ACTORS = 10_000
LOAD_RATE = 2_000  # tells per second
TICK = 0.002
MARK_TICKS = 1
SCRAPE_INTERVAL = 1.0
CHURN = 10  # actors stopped and replaced per second during the soak
WARMUP = 0.2  # of the soak
RSS_WINDOW = 0.05  # of the soak
SOAK_SECONDS = 600
PAYLOAD = "msg"
ROOT = Path(__file__).resolve().parent.parent
Labels = Literal["group", "actor"]


@dataclass
class Ticker:
    """Sleeps ``TICK`` in a loop and records how late it wakes.

    ``worst`` is the largest lateness since :meth:`reset`. After :meth:`mark`, the largest
    lateness of the next ``MARK_TICKS`` wakes is appended to ``marks``: called as a scrape's
    collect starts, it records the stall of that scrape (the first wake after a block is late
    by the block, and by whatever else ran in the same turn of the loop).
    """

    worst: float = 0.0
    marks: list[float] = field(default_factory=list)
    _pending: int = 0
    _marked: float = 0.0

    def reset(self) -> None:
        self.worst = 0.0

    def mark(self) -> None:
        self._pending, self._marked = MARK_TICKS, 0.0

    async def run(self) -> None:
        clock = time.perf_counter
        while True:
            start = clock()
            await anyio.sleep(TICK)
            late = clock() - start - TICK
            self.worst = max(self.worst, late)
            if self._pending:
                self._marked = max(self._marked, late)
                self._pending -= 1
                if not self._pending:
                    self.marks.append(self._marked)


class Load:
    """``LOAD_RATE`` tells a second to random actors of ``names``, in batches every 10 ms."""

    def __init__(self, system: Any, names: list[str]) -> None:
        self.system = system
        self.names = names
        self.sent = self.missed = 0
        self._random = random.Random(7)

    async def run(self) -> None:
        from letta_actors import ActorNotFound, ActorStopped

        batch = max(1, LOAD_RATE // 100)
        while True:
            for _ in range(batch):
                ref = self.system.ref(self._random.choice(self.names))
                try:
                    await ref.tell(PAYLOAD)
                except (ActorNotFound, ActorStopped):  # churn: stopped as we chose it
                    self.missed += 1
                    continue
                self.sent += 1
            await anyio.sleep(0.01)


def rss_mb() -> float:
    """This process' resident set size now (Linux /proc; elsewhere its peak)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_collect(
    collector: Any,
    wall: list[float],
    cpu: list[float],
    full_gcs: list[int],
    ticker: Ticker | None = None,
) -> None:
    """Make ``collector.collect`` append its wall and CPU time (ms) to ``wall`` and ``cpu``.

    The CPU time is this thread's: on a machine shared with other processes it is the work
    one scrape does, while the wall time also counts the time the OS ran something else.
    ``full_gcs`` gets the number of full (generation 2) garbage collections during each call.
    With ``ticker``, it is marked as the collect starts.
    """
    collect = collector.collect

    def wrapper() -> Any:
        if ticker is not None:
            ticker.mark()
        full = gc.get_stats()[2]["collections"]
        start, start_cpu = time.perf_counter(), time.thread_time()
        try:
            return collect()
        finally:
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
            full_gcs.append(gc.get_stats()[2]["collections"] - full)

    collector.collect = wrapper


async def _spawn(system: Any, names: list[str]) -> None:
    from benchmarks._letta import Echo

    refs = [await system.spawn(Echo, name=name) for name in names]
    for ref in refs:
        await ref.tell(PAYLOAD)
    for ref in refs:
        await ref.ask(PAYLOAD, timeout=60.0)


@dataclass
class StallFigures:
    stall_ms: list[float] = field(default_factory=list)
    quiet_ms: list[float] = field(default_factory=list)
    collect_ms: list[float] = field(default_factory=list)
    collect_cpu_ms: list[float] = field(default_factory=list)
    full_gcs: list[int] = field(default_factory=list)
    body_kb: float = 0.0


async def _stalls(system: Any, ticker: Ticker, labels: Labels, k: int) -> StallFigures:
    """``k`` scrapes of ``system`` with ``labels``, each after a quiet window as long."""
    from letta_actors.metrics import SystemMetrics, respond

    out = StallFigures()
    with SystemMetrics(system, labels=labels) as metrics:
        await respond(metrics.registry, "GET", OPENMETRICS, "gzip")  # first sight: warm-up
        timed_collect(metrics.collector, out.collect_ms, out.collect_cpu_ms, out.full_gcs)
        window = 0.05
        for _ in range(k):
            ticker.reset()
            await anyio.sleep(window)
            out.quiet_ms.append(ticker.worst * 1000)
            ticker.reset()
            start = time.perf_counter()
            response = await respond(metrics.registry, "GET", OPENMETRICS, "gzip")
            await anyio.sleep(2 * TICK)  # the ticker wakes after the last block
            out.stall_ms.append(ticker.worst * 1000)
            window = max(0.05, time.perf_counter() - start)
        out.body_kb = len(response.body) / 1024
    return out


@dataclass
class SoakFigures:
    seconds: float = 0.0
    scrapes: int = 0
    sent: int = 0
    churned: int = 0
    rss_mb: list[float] = field(default_factory=list)
    stall_ms: list[float] = field(default_factory=list)
    collect_ms: list[float] = field(default_factory=list)
    collect_cpu_ms: list[float] = field(default_factory=list)
    full_gcs: list[int] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)

    def rss_growth(self) -> tuple[float, float]:
        """(median RSS after the warm-up, median RSS at the end) in MB."""
        n = len(self.rss_mb)
        width = max(1, round(n * RSS_WINDOW))
        start = min(n - width, round(n * WARMUP))
        return (
            statistics.median(self.rss_mb[start : start + width]),
            statistics.median(self.rss_mb[n - width :]),
        )


async def _soak(system: Any, ticker: Ticker, load: Load, seconds: int) -> SoakFigures:
    """Serve ``system`` (group labels) to a scraper process for ``seconds``, with churn."""
    from benchmarks._letta import Echo
    from letta_actors.metrics import SystemMetrics

    out = SoakFigures()
    with SystemMetrics(system, labels="group") as metrics:
        timed_collect(metrics.collector, out.collect_ms, out.collect_cpu_ms, out.full_gcs, ticker)
        ticker.marks.clear()
        argv = [sys.executable, "-m", "benchmarks._scraper", "", str(SCRAPE_INTERVAL)]
        async with metrics.serving() as server:
            argv[3] = server.url
            async with await anyio.open_process(argv, cwd=ROOT) as scraper:
                assert scraper.stdout is not None and scraper.stdin is not None
                reader = BufferedByteReceiveStream(scraper.stdout)
                if await reader.receive_until(b"\n", 1000) != b"ready":
                    raise RuntimeError("the scraper did not start")
                start = time.perf_counter()
                fresh = 0
                while time.perf_counter() - start < seconds:
                    await anyio.sleep(1.0)
                    for _ in range(CHURN):
                        victim = load.names.pop(0)
                        await system.ref(victim).stop()
                        name = f"fresh{fresh}"
                        fresh += 1
                        await (await system.spawn(Echo, name=name)).tell(PAYLOAD)
                        load.names.append(name)
                        out.churned += 1
                    out.rss_mb.append(rss_mb())
                out.seconds = time.perf_counter() - start
                await scraper.stdin.aclose()
                report = json.loads(await reader.receive_until(b"\n", 10_000_000))
                out.stall_ms = [late * 1000 for late in ticker.marks]
        out.scrapes = report["scrapes"]
        out.get_ms = report["ms"]
    out.sent = load.sent
    return out


Measured = tuple[dict[Labels, StallFigures], SoakFigures | None]


async def measure(actors: int, k: int, seconds: int) -> Measured:
    """Build the system, put it under load, measure the stalls, then soak for ``seconds``."""
    from benchmarks._letta import ActorSystem

    async with ActorSystem() as system, anyio.create_task_group() as tg:
        names = [f"w{i}" for i in range(actors)]
        await _spawn(system, names)
        ticker = Ticker()
        load = Load(system, names)
        tg.start_soon(ticker.run)
        tg.start_soon(load.run)
        modes: tuple[Labels, ...] = ("group", "actor")
        stalls = {labels: await _stalls(system, ticker, labels, k) for labels in modes}
        soak = await _soak(system, ticker, load, seconds) if seconds > 0 else None
        tg.cancel_scope.cancel()
    return stalls, soak


def _result(actors: int, k: int, measured: Measured) -> SectionResult:
    stalls, soak = measured
    rows: list[Measurement] = []
    for labels, f in stalls.items():
        subject = f"{actors:,} actors under load, labels={labels}"
        rows += [
            Measurement(subject, "loop stall per scrape", "ms", "lower", f.stall_ms,
                        note=f"{k} scrapes: ticker's worst lateness while one scrape runs"),
            Measurement(subject, "quiet-window lateness", "ms", "lower", f.quiet_ms,
                        note="the same ticker, an equal window without a scrape (noise floor)"),
            Measurement(subject, "collect()", "ms", "lower", f.collect_ms,
                        note="the synchronous part, in the loop (wall time)"),
            Measurement(subject, "collect() CPU", "ms", "lower", f.collect_cpu_ms,
                        note=f"the loop thread's CPU time in collect(); "
                        f"{sum(f.full_gcs)} full GCs during the collects"),
            Measurement(subject, "body", "KB", "lower", [f.body_kb], note="OpenMetrics, gzip"),
        ]  # fmt: skip
    targets = [
        Target(
            "loop stall per scrape with group labels <= 20 ms (median)",
            f"{actors:,} actors under load, labels=group",
            "loop stall per scrape",
            "<=",
            20.0,
            relative=False,
        )
    ]
    notes = [
        f"load: {LOAD_RATE:,} tells/s to random actors; ticker sleeps {TICK * 1000:.0f} ms; "
        "asyncio; the scrape is respond() as the endpoints call it (OpenMetrics, gzip)",
    ]
    if soak is not None:
        subject = f"soak {soak.seconds:.0f} s, {actors:,} actors, labels=group"
        before, after = soak.rss_growth()
        growth = (after - before) / before * 100
        peak = max(soak.rss_mb)
        per_scrape = f"{soak.scrapes} scrapes"
        rows += [
            Measurement(subject, "loop stall per scrape", "ms", "lower", soak.stall_ms,
                        note=f"{per_scrape}; p99 {percentile(soak.stall_ms or [0], 99):.1f} ms"),
            Measurement(subject, "collect()", "ms", "lower", soak.collect_ms,
                        note=f"p99 {percentile(soak.collect_ms or [0], 99):.1f} ms"),
            Measurement(subject, "collect() CPU", "ms", "lower", soak.collect_cpu_ms,
                        note=f"p99 {percentile(soak.collect_cpu_ms or [0], 99):.1f} ms; "
                        f"{sum(soak.full_gcs)} full GCs during the collects"),
            Measurement(subject, "HTTP GET", "ms", "lower", soak.get_ms,
                        note="client side, from the scraper process"),
            Measurement(subject, "RSS after warm-up", "MB", "lower", [before],
                        note=f"median of the {RSS_WINDOW:.0%} of samples after a "
                        f"{WARMUP:.0%} warm-up"),
            Measurement(subject, "RSS at the end", "MB", "lower", [after],
                        note=f"median of the last {RSS_WINDOW:.0%}; peak {peak:.1f} MB"),
            Measurement(subject, "RSS growth after warm-up", "%", "lower", [growth],
                        note=f"{soak.sent:,} tells, {soak.churned:,} actors replaced"),
        ]  # fmt: skip
        targets += [
            Target("soak: RSS growth after warm-up <= 2 %", subject, "RSS growth after warm-up",
                   "<=", 2.0, relative=False),
            Target("soak: loop stall per scrape with group labels <= 20 ms (median)", subject,
                   "loop stall per scrape", "<=", 20.0, relative=False),
        ]  # fmt: skip
        notes.append(
            f"soak: standalone endpoint GET every {SCRAPE_INTERVAL:.0f} s by a separate process; "
            f"{CHURN} actors stopped and replaced by new ones every second; stall: the ticker's "
            "lateness at its first wake after each collect() began"
        )
    return SectionResult(measurements=rows, targets=targets, notes=notes)


def run_scale(actors: int, k: int, seconds: int) -> SectionResult:
    """Measure and build the section's result (asyncio)."""
    measured = anyio.run(partial(measure, actors, k, seconds), backend="asyncio")
    return _result(actors, k, measured)


@section("scale", "10,000 actors: loop stall per scrape, RSS over a soak scraped every second")
def run(cfg: RunConfig) -> SectionResult:
    """The full run: 10,000 actors, 15 scrapes per label mode, a 600 s soak."""
    return run_scale(cfg.size(N_ACTORS, 300), cfg.size(15, 3), cfg.size(SOAK_SECONDS, 3))
