"""Section ``restart``: supervisor restart latency, from a crash to the next message handled.

A permanent child of a ``one_for_one`` supervisor is told ``CRASH`` and, at once (a tell
with room in the mailbox does not yield), asked ``PROBE``: both are queued before the child
runs. The old instance reads ``perf_counter()`` right before raising; the new instance reads
it again when it handles ``PROBE``. The difference is the restart latency as a sender sees
it: the old instance's exit, the exit report to the supervisor, the supervisor's decision,
the new instance's construction and ``on_start``, and its first message.

For context, the same run also takes the gap between two messages handled back to back by
the same instance without a crash (``NOOP`` then ``PROBE``): what a restart adds is the
difference. A third subject crashes a *fresh* child under a supervisor with the default
``Backoff()``, whose first restart is immediate (later ones in a row are paced: 0.1 s, ...).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import anyio

from benchmarks._core import (
    Measurement,
    RunConfig,
    Sampler,
    SectionResult,
    Target,
    available,
    interleave,
    percentile,
    section,
)

CRASH = "crash"
NOOP = "noop"
PROBE = "probe"

Figures = tuple[float, float]


class _Crash(Exception):
    """The failure the benchmark injects."""


class _Clock:
    """Shared by every instance of one child: when the last crash or no-op was handled."""

    def __init__(self) -> None:
        self.before = 0.0
        self.instances = 0


def _crasher(clock: _Clock) -> Callable[[], Any]:
    """A factory of instances that crash on ``CRASH`` and reply with the time to ``PROBE``."""
    from benchmarks._letta import Actor

    class Crasher(Actor):
        def __init__(self) -> None:
            clock.instances += 1

        async def receive(self, message: Any) -> Any:
            if message == PROBE:
                return time.perf_counter()
            clock.before = time.perf_counter()
            if message == CRASH:
                raise _Crash("injected")
            return None

    return Crasher


def _summary(gaps: list[float]) -> Figures:
    """(median, p99) in microseconds."""
    us = [g * 1e6 for g in gaps]
    return statistics.median(us), percentile(us, 99)


async def no_backoff(n: int, warmup: int) -> tuple[float, float, float, float]:
    """``n`` crashes under NO_BACKOFF (and ``n`` no-crash gaps): both (median, p99) in us."""
    from benchmarks._letta import ActorSystem, MailboxConfig
    from letta_actors import NO_BACKOFF, ChildSpec, Intensity, Supervisor

    clock = _Clock()
    spec = ChildSpec(factory=_crasher(clock), name="crasher", mailbox=MailboxConfig(capacity=16))
    # Far more restarts than the run makes, so the intensity never trips.
    intensity = Intensity(max_restarts=10 * (n + warmup) + 10, period=3600.0)
    async with ActorSystem() as system:
        await system.spawn(
            lambda: Supervisor([spec], backoff=NO_BACKOFF, intensity=intensity), name="sup"
        )
        ref = system.ref("crasher")
        await ref.ask(PROBE, timeout=10.0)
        restarts: list[float] = []
        gaps: list[float] = []
        for i in range(warmup + n):
            await ref.tell(NOOP)
            probed = await ref.ask(PROBE, timeout=10.0)
            gap = probed - clock.before
            await ref.tell(CRASH)
            probed = await ref.ask(PROBE, timeout=10.0)
            if i >= warmup:
                gaps.append(gap)
                restarts.append(probed - clock.before)
    if clock.instances != 1 + warmup + n:  # every PROBE after a CRASH met a new instance
        raise RuntimeError(f"{clock.instances} instances for {warmup + n} crashes")
    return (*_summary(restarts), *_summary(gaps))


async def default_backoff(n: int, warmup: int) -> Figures:
    """``n`` fresh supervisors with the default Backoff/Intensity, each child crashing once."""
    from benchmarks._letta import ActorSystem
    from letta_actors import ChildSpec, Supervisor

    clock = _Clock()
    factory = _crasher(clock)
    restarts: list[float] = []
    async with ActorSystem() as system:
        for i in range(warmup + n):
            spec = ChildSpec(factory=factory, name=f"crasher-{i}")
            await system.spawn(partial(Supervisor, [spec]), name=f"sup-{i}")
            ref = system.ref(spec.name)
            await ref.tell(CRASH)
            probed = await ref.ask(PROBE, timeout=10.0)
            if i >= warmup:
                restarts.append(probed - clock.before)
            await system.stop(f"sup-{i}")
    return _summary(restarts)


@contextmanager
def _quiet_supervisors() -> Iterator[None]:
    """Keep the supervisor's per-crash ``log.error`` (with traceback) out of the figures.

    Without a handler those records would go to stderr through logging's last resort;
    with one, the cost is the application's handler, not the runtime's.
    """
    logger = logging.getLogger("letta_actors")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _pair(subject: str, note: str) -> list[Measurement]:
    return [
        Measurement(subject, "median", "us", "lower", note=note),
        Measurement(subject, "p99", "us", "lower", note=note),
    ]


def _subject(backend: str, what: str) -> str:
    return f"letta_actors ({backend}): {what}"


RESTART = "restart, NO_BACKOFF"
NO_CRASH = "next message, no crash (context)"
FIRST = "restart, default Backoff (1st crash)"


@section("restart", "supervisor restart latency (crash -> next message on the new instance)")
def run(cfg: RunConfig) -> SectionResult:
    """Median and p99 restart latency per backend, subjects taking turns."""
    n = cfg.size(2_000, 100)
    warmup = cfg.size(100, 5)
    n_fresh = cfg.size(200, 10)
    warmup_fresh = cfg.size(10, 1)

    def on(backend: str, fn: Callable[..., Awaitable[Any]], *args: int) -> Sampler:
        return lambda: anyio.run(fn, *args, backend=backend)

    rows: list[Measurement] = []
    plan: list[tuple[list[Measurement], Sampler]] = []
    for backend in ("asyncio", "trio"):
        restart = _pair(_subject(backend, RESTART), f"{n:,} crashes per sample, one_for_one")
        gap = _pair(_subject(backend, NO_CRASH), "NOOP then PROBE, same instance")
        first = _pair(_subject(backend, FIRST), f"{n_fresh:,} fresh children per sample")
        rows += restart + gap + first
        if backend == "trio" and not available("trio"):
            for m in restart + gap + first:
                m.skipped = "trio not installed"
            continue
        plan += [
            (restart + gap, on(backend, no_backoff, n, warmup)),
            (first, on(backend, default_backoff, n_fresh, warmup_fresh)),
        ]
    with _quiet_supervisors():
        interleave(cfg, plan)
    return SectionResult(
        measurements=rows,
        targets=[
            Target(
                "letta_actors asyncio restart median < 1 ms (1,000 us)",
                _subject("asyncio", RESTART),
                "median",
                "<=",
                1000.0,
                relative=False,
            ),
            Target(
                "letta_actors trio restart median < 1 ms (1,000 us)",
                _subject("trio", RESTART),
                "median",
                "<=",
                1000.0,
                relative=False,
            ),
        ],
        notes=[
            "absolute target, no baseline: a figure is the median over the samples of each "
            "sample's median / p99 of its crash-to-next-message gaps",
            "the letta_actors loggers are raised to CRITICAL during the section, so the "
            "supervisor's per-crash log.error (with traceback) formats nothing",
        ],
    )
