"""Section ``ask``: sequential request/response round trips to one echoing receiver.

Each subject runs ``n`` asks back to back and times every one with ``perf_counter_ns``;
a sample is the median and the p99 of those round trips, in microseconds.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
    ratio,
    section,
)

PAYLOAD = "ping"

Workload = Callable[[int], Awaitable[tuple[float, float]]]

RAW_ASYNCIO = "raw asyncio (queue + future)"
RAW_TRIO = "raw trio (channel + event)"
LETTA_ASYNCIO = "letta_actors (asyncio)"
LETTA_TRIO = "letta_actors (trio)"
AUTOGEN = "autogen-core send_message"
PYKKA = "pykka ThreadingActor.ask"


def _summary(round_trips_ns: list[int]) -> tuple[float, float]:
    """(median, p99) in microseconds."""
    us = [t / 1000 for t in round_trips_ns]
    return statistics.median(us), percentile(us, 99)


async def _time_calls(n: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    clock = time.perf_counter_ns
    trips: list[int] = []
    for _ in range(n):
        start = clock()
        await call()
        trips.append(clock() - start)
    return _summary(trips)


async def raw_asyncio(n: int) -> tuple[float, float]:
    """A queue of (request, future) pairs; a consumer task resolves each future."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[object, asyncio.Future[object]]] = asyncio.Queue()

    async def serve() -> None:
        while True:
            request, reply = await queue.get()
            reply.set_result(request)

    server = asyncio.create_task(serve())

    async def call() -> object:
        reply: asyncio.Future[object] = loop.create_future()
        queue.put_nowait((PAYLOAD, reply))
        return await reply

    try:
        return await _time_calls(n, call)
    finally:
        server.cancel()


@dataclass
class _Slot:
    """A one-shot reply cell for the raw trio baseline."""

    value: object = None
    done: Any = None


async def raw_trio(n: int) -> tuple[float, float]:
    """A memory channel of (request, slot) pairs; a consumer task fills the slot, sets its event."""
    import trio

    send, receive = trio.open_memory_channel[tuple[object, _Slot]](1000)

    async def serve() -> None:
        async for request, slot in receive:
            slot.value = request
            slot.done.set()

    async def call() -> object:
        slot = _Slot(done=trio.Event())
        await send.send((PAYLOAD, slot))
        await slot.done.wait()
        return slot.value

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        result = await _time_calls(n, call)
        nursery.cancel_scope.cancel()
    return result


async def letta(n: int) -> tuple[float, float]:
    """letta_actors ``ref.ask`` with a timeout, as an application would call it."""
    from benchmarks._letta import ActorSystem, Echo, MailboxConfig

    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="echo", mailbox=MailboxConfig(capacity=1000))
        await ref.ask(PAYLOAD, timeout=10.0)
        return await _time_calls(n, lambda: ref.ask(PAYLOAD, timeout=10.0))


async def autogen(n: int) -> tuple[float, float]:
    """autogen-core ``send_message`` (its RPC) to a RoutedAgent that returns the message."""
    from autogen_core import AgentId, SingleThreadedAgentRuntime

    from benchmarks._autogen import Echo, Ping

    runtime = SingleThreadedAgentRuntime()
    await Echo.register(runtime, "echo", Echo)
    runtime.start()
    target = AgentId("echo", "default")
    message = Ping(PAYLOAD)
    try:
        await runtime.send_message(message, target)
        return await _time_calls(n, lambda: runtime.send_message(message, target))
    finally:
        await runtime.stop()
        await runtime.close()


def pykka_ask(n: int) -> tuple[float, float]:
    """pykka ``ActorRef.ask`` from the main thread to a ThreadingActor."""
    import pykka

    class Echo(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            return message

    ref = Echo.start()
    clock = time.perf_counter_ns
    trips: list[int] = []
    try:
        ref.ask(PAYLOAD)
        for _ in range(n):
            start = clock()
            ref.ask(PAYLOAD)
            trips.append(clock() - start)
    finally:
        ref.stop()
    return _summary(trips)


def _pair(subject: str, *, baseline: bool = False, note: str = "") -> list[Measurement]:
    return [
        Measurement(subject, "ask median", "us", "lower", baseline=baseline, note=note),
        Measurement(subject, "ask p99", "us", "lower", baseline=baseline, note=note),
    ]


@section("ask", "ask round-trip latency (sequential request/response)")
def run(cfg: RunConfig) -> SectionResult:
    """Measure median and p99 round trip of every subject, the subjects taking turns."""
    n = cfg.size(20_000, 500)
    n_slow = cfg.size(5_000, 200)

    def on(
        backend: str, fn: Callable[[int], Awaitable[tuple[float, float]]], count: int
    ) -> Sampler:
        return lambda: anyio.run(fn, count, backend=backend)

    base = _pair(RAW_ASYNCIO, baseline=True, note=f"{n:,} round trips; the limit")
    letta_asyncio = _pair(LETTA_ASYNCIO, note=f"{n:,} round trips")
    raw_t = _pair(RAW_TRIO, note=f"{n:,} round trips; trio's own limit")
    letta_trio = _pair(LETTA_TRIO, note=f"{n:,} round trips")
    ag = _pair(AUTOGEN, note=f"{n_slow:,} round trips")
    pk = _pair(PYKKA, note=f"{n_slow:,} round trips; OS threads")
    plan: list[tuple[list[Measurement], Sampler]] = [
        (base, on("asyncio", raw_asyncio, n)),
        (letta_asyncio, on("asyncio", letta, n)),
    ]
    if available("trio"):
        plan += [(raw_t, on("trio", raw_trio, n)), (letta_trio, on("trio", letta, n))]
    else:
        _skip(raw_t + letta_trio, "trio not installed")
    if available("autogen_core"):
        plan.append((ag, on("asyncio", autogen, n_slow)))
    else:
        _skip(ag, "autogen-core not installed")
    if available("pykka"):
        plan.append((pk, lambda: pykka_ask(n_slow)))
    else:
        _skip(pk, "pykka not installed")
    interleave(cfg, plan)
    for m, r in zip(letta_trio, raw_t, strict=True):
        vs_trio = ratio(m, r, paired=True)
        if vs_trio is not None:
            m.note += f"; {vs_trio:.2f}x raw trio"

    return SectionResult(
        measurements=base + letta_asyncio + raw_t + letta_trio + ag + pk,
        targets=[
            Target(
                "letta_actors asyncio ask median <= 1.5x raw asyncio round trip",
                LETTA_ASYNCIO,
                "ask median",
                "<=",
                1.5,
                relative=True,
            )
        ],
        paired=True,
    )


def _skip(measurements: list[Measurement], why: str) -> None:
    for m in measurements:
        m.skipped = why
