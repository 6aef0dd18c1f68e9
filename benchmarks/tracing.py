"""Section ``tracing``: tell throughput without tracing, with tracing installed but off, on.

*Without* is the ``tell`` section's letta_actors workload as it is: no tracer on the system.
*Installed, off* is the same after ``install_tracing(system)`` and ``close()`` (the OpenTelemetry
SDK imported, a provider made and shut down, the hook taken off): what a system pays for
tracing it does not use. *On* traces every message (a span per message handled, the context
captured at each tell) through a ``BatchSpanProcessor`` whose exporter discards the batches, so
the figure is the cost in the event loop, not the network's; it runs fewer messages (spans are
made faster than they are exported, and a full batch queue drops spans, as in production).
The three take turns round by round.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import anyio

from benchmarks._core import (
    Measurement,
    RunConfig,
    Sampler,
    SectionResult,
    Target,
    available,
    interleave,
    ratio,
    section,
)

CAPACITY = 1000
PAYLOAD = "msg"
Mode = Literal["without", "off", "on"]

WITHOUT = "letta_actors (asyncio), no tracing"
OFF = "letta_actors (asyncio), tracing installed, off"
ON = "letta_actors (asyncio), tracing on"
WITHOUT_TRIO = "letta_actors (trio), no tracing"
OFF_TRIO = "letta_actors (trio), tracing installed, off"


def _discarding_processor() -> Any:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    return BatchSpanProcessor(Discard())


async def _tell(n: int, mode: Mode) -> float:
    """msg/s of ``n`` tells to a no-op actor, done when a trailing ask returns."""
    from benchmarks._letta import ActorSystem, Echo, MailboxConfig

    async with ActorSystem() as system:
        tracing = None
        if mode != "without":
            from letta_actors.tracing import install_tracing

            tracing = install_tracing(system, processor=_discarding_processor())
            if mode == "off":
                tracing.close()
        try:
            ref = await system.spawn(Echo, name="sink", mailbox=MailboxConfig(capacity=CAPACITY))
            await ref.ask(PAYLOAD, timeout=10.0)
            start = time.perf_counter()
            for _ in range(n):
                await ref.tell(PAYLOAD)
            await ref.ask(PAYLOAD, timeout=60.0)
            return n / (time.perf_counter() - start)
        finally:
            if tracing is not None:
                tracing.close()


@section("tracing", "tell throughput: no tracing vs. tracing installed but off vs. on")
def run(cfg: RunConfig) -> SectionResult:
    """The three modes taking turns (asyncio; without vs. off on trio too)."""
    n = cfg.size(200_000, 2_000)
    n_on = cfg.size(20_000, 500)

    def on(backend: str, count: int, mode: Mode) -> Sampler:
        return lambda: (anyio.run(_tell, count, mode, backend=backend),)

    def rate(subject: str, count: int, baseline: bool = False) -> Measurement:
        return Measurement(
            subject, "throughput", "msg/s", "higher", baseline=baseline, note=f"{count:,} msgs"
        )

    without, off, traced = rate(WITHOUT, n, baseline=True), rate(OFF, n), rate(ON, n_on)
    without_t, off_t = rate(WITHOUT_TRIO, n), rate(OFF_TRIO, n)
    measurements = [without, off, traced, without_t, off_t]
    if not available("opentelemetry.sdk"):
        for m in (off, traced, off_t):
            m.skipped = "the otel extra is not installed"
        plan: list[tuple[list[Measurement], Sampler]] = [([without], on("asyncio", n, "without"))]
    else:
        plan = [
            ([without], on("asyncio", n, "without")),
            ([off], on("asyncio", n, "off")),
            ([traced], on("asyncio", n_on, "on")),
        ]
        if available("trio"):
            plan += [([without_t], on("trio", n, "without")), ([off_t], on("trio", n, "off"))]
        else:
            without_t.skipped = off_t.skipped = "trio not installed"
    interleave(cfg, plan)
    vs_trio = ratio(off_t, without_t, paired=True)
    if vs_trio is not None:
        off_t.note += f"; {vs_trio:.2f}x trio without"
    if traced.value:
        traced.note += f"; {1e6 / traced.value:.1f} us per message"
    return SectionResult(
        measurements=measurements,
        targets=[
            Target(
                "tell, tracing installed but off >= 0.97x without tracing",
                OFF,
                "throughput",
                ">=",
                0.97,
                relative=True,
            )
        ],
        paired=True,
        notes=[
            "on: a span per message handled and the context captured at each tell, through "
            "a BatchSpanProcessor whose exporter discards (the loop's cost, not the network's)",
        ],
    )
