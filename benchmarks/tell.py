"""Section ``tell``: one-way throughput from one sender to one no-op receiver.

Every subject pushes ``n`` messages through a bounded channel of ``CAPACITY`` slots where
it has one; the clock stops when the receiver has provably handled the last message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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
    ratio,
    section,
)

CAPACITY = 1000
PAYLOAD = "msg"
_STOP = object()

RAW_ASYNCIO = "raw asyncio.Queue"
RAW_TRIO = "raw trio memory channel"
LETTA_ASYNCIO = "letta_actors (asyncio)"
LETTA_TRIO = "letta_actors (trio)"
AUTOGEN = "autogen-core publish_message"
PYKKA = "pykka ThreadingActor.tell"


async def raw_asyncio(n: int) -> float:
    """asyncio.Queue(maxsize=CAPACITY) producer/consumer; done when the consumer sees a stop."""
    return (await _raw_asyncio_clocks(n))[0]


async def _raw_asyncio_clocks(n: int) -> tuple[float, float]:
    """:func:`raw_asyncio`'s wall-clock and CPU seconds (sender and consumer share a thread)."""
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=CAPACITY)

    async def consume() -> None:
        while await queue.get() is not _STOP:
            pass

    consumer = asyncio.create_task(consume())
    start, cpu = time.perf_counter(), time.thread_time()
    for _ in range(n):
        await queue.put(PAYLOAD)
    await queue.put(_STOP)
    await consumer
    return time.perf_counter() - start, time.thread_time() - cpu


async def raw_trio(n: int) -> float:
    """trio memory channel with CAPACITY slots; done when the consumer drains the closed channel."""
    import trio

    send, receive = trio.open_memory_channel[object](CAPACITY)
    elapsed = 0.0

    async def consume() -> None:
        nonlocal elapsed
        async with receive:
            async for _ in receive:
                pass
        elapsed = time.perf_counter() - start

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        start = time.perf_counter()
        async with send:
            for _ in range(n):
                await send.send(PAYLOAD)
    return elapsed


async def letta(n: int) -> float:
    """letta_actors tell with a blocking mailbox of CAPACITY; done when a trailing ask returns."""
    return (await _letta_clocks(n))[0]


async def _letta_clocks(n: int) -> tuple[float, float]:
    """:func:`letta`'s wall-clock and CPU seconds (sender and actor share a thread)."""
    from benchmarks._letta import ActorSystem, Echo, MailboxConfig

    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="sink", mailbox=MailboxConfig(capacity=CAPACITY))
        await ref.ask(PAYLOAD, timeout=10.0)  # the actor is up before the clock starts
        start, cpu = time.perf_counter(), time.thread_time()
        for _ in range(n):
            await ref.tell(PAYLOAD)
        await ref.ask(_STOP, timeout=60.0)
        return time.perf_counter() - start, time.thread_time() - cpu


async def autogen(n: int) -> float:
    """autogen-core SingleThreadedAgentRuntime: publish to a type subscription, done when idle."""
    from autogen_core import SingleThreadedAgentRuntime, TopicId, TypeSubscription

    from benchmarks._autogen import Ping, Sink

    runtime = SingleThreadedAgentRuntime()
    await Sink.register(runtime, "sink", Sink)
    await runtime.add_subscription(TypeSubscription(topic_type="bench", agent_type="sink"))
    topic = TopicId(type="bench", source="default")
    message = Ping(PAYLOAD)
    runtime.start()
    await runtime.publish_message(message, topic)  # instantiate the agent before timing
    await runtime.stop_when_idle()
    runtime.start()
    start = time.perf_counter()
    for _ in range(n):
        await runtime.publish_message(message, topic)
    await runtime.stop_when_idle()
    elapsed = time.perf_counter() - start
    await runtime.close()
    return elapsed


def pykka_tell(n: int) -> float:
    """pykka ThreadingActor (a thread with an unbounded queue); done when a trailing ask returns."""
    import pykka

    class Sink(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            return message

    ref = Sink.start()
    try:
        ref.ask(PAYLOAD)
        start = time.perf_counter()
        for _ in range(n):
            ref.tell(PAYLOAD)
        ref.ask(PAYLOAD)
        return time.perf_counter() - start
    finally:
        ref.stop()


def _rate(n: int, seconds: float) -> tuple[float]:
    return (n / seconds,)


def _rates(n: int, seconds: tuple[float, float]) -> tuple[float, float]:
    return n / seconds[0], n / seconds[1]


def _throughput(
    subject: str, *, baseline: bool = False, note: str = "", metric: str = "throughput"
) -> Measurement:
    return Measurement(subject, metric, "msg/s", "higher", baseline=baseline, note=note)


@section("tell", "tell throughput (1 sender -> 1 no-op actor, capacity 1000)")
def run(cfg: RunConfig) -> SectionResult:
    """Measure every subject's one-way throughput, the subjects taking turns."""
    n = cfg.size(200_000, 2_000)
    # Slower subjects get smaller loads (the rate does not depend on n once n >> CAPACITY),
    # which keeps the default run within two minutes.
    n_trio = cfg.size(100_000, 2_000)
    n_slow = cfg.size(5_000, 500)

    def on(backend: str, fn: Callable[[int], Awaitable[float]], count: int) -> Sampler:
        return lambda: _rate(count, anyio.run(fn, count, backend=backend))

    base = _throughput(RAW_ASYNCIO, baseline=True, note=f"{n:,} msgs; the limit")
    letta_asyncio = _throughput(LETTA_ASYNCIO, note=f"{n:,} msgs")
    # The same runs by CPU time (time.thread_time: the sender and the receiver share the
    # thread), which other processes on a loaded machine disturb far less than the wall clock.
    cpu_note = "same runs, messages per CPU second"
    base_cpu = _throughput(RAW_ASYNCIO, baseline=True, note=cpu_note, metric="CPU throughput")
    letta_cpu = _throughput(LETTA_ASYNCIO, note=cpu_note, metric="CPU throughput")
    raw_t = _throughput(RAW_TRIO, note=f"{n_trio:,} msgs; trio's own limit")
    letta_trio = _throughput(LETTA_TRIO, note=f"{n:,} msgs")
    ag = _throughput(AUTOGEN, note=f"{n_slow:,} msgs; unbounded queue, task per message")
    pk = _throughput(PYKKA, note=f"{n_slow:,} msgs; OS thread, unbounded queue")

    def clocks(fn: Callable[[int], Awaitable[tuple[float, float]]]) -> Sampler:
        return lambda: _rates(n, anyio.run(fn, n, backend="asyncio"))

    plan: list[tuple[list[Measurement], Sampler]] = [
        ([base, base_cpu], clocks(_raw_asyncio_clocks)),
        ([letta_asyncio, letta_cpu], clocks(_letta_clocks)),
    ]
    if available("trio"):
        plan += [([raw_t], on("trio", raw_trio, n_trio)), ([letta_trio], on("trio", letta, n))]
    else:
        raw_t.skipped = letta_trio.skipped = "trio not installed"
    if available("autogen_core"):
        plan.append(([ag], on("asyncio", autogen, n_slow)))
    else:
        ag.skipped = "autogen-core not installed"
    if available("pykka"):
        plan.append(([pk], lambda: _rate(n_slow, pykka_tell(n_slow))))
    else:
        pk.skipped = "pykka not installed"
    interleave(cfg, plan)
    vs_trio = ratio(letta_trio, raw_t, paired=True)
    if vs_trio is not None:
        letta_trio.note += f"; {vs_trio:.2f}x raw trio"

    return SectionResult(
        measurements=[base, letta_asyncio, base_cpu, letta_cpu, raw_t, letta_trio, ag, pk],
        targets=[
            Target(
                "letta_actors asyncio tell >= 0.5x raw asyncio.Queue",
                LETTA_ASYNCIO,
                "throughput",
                ">=",
                0.5,
                relative=True,
            ),
            Target(
                "letta_actors asyncio tell >= 0.5x raw asyncio.Queue, by CPU time (same runs)",
                LETTA_ASYNCIO,
                "CPU throughput",
                ">=",
                0.5,
                relative=True,
            ),
        ],
        paired=True,
    )
