"""Section ``cluster_remote``: cross-node tell, ask and durable tell against raw nats-py.

Issue 13's targets, each a ratio to a raw ``nats-py`` figure measured in the same run, the
same process and the same event loop, with the same 128-byte payload (the letta_actors
subjects send a 128-character ``str``; the envelope around it is part of what they cost):

- *cross-node tell* >= 0.5x core publish throughput: node a's ``ref.tell`` to a non-durable
  actor owned by node b, ``n`` tells from one sender; the clock stops when the actor on b
  has handled the ``n``-th. Baseline: one connection publishes ``n`` messages, another
  connection's subscriber counts them (``cluster_baseline.core_publish``).
- *cross-node ask* <= 1.5x a request round trip (median): ``n`` sequential
  ``ref.ask(..., timeout=10)`` from a to an echo actor on b. Baseline: ``n`` sequential
  ``request`` calls to a responder on another connection.
- *durable tell* >= 0.5x JetStream publish with the same acknowledgement batching: ``n``
  tells to a durable actor on b (each stored in its JetStream stream before ``tell``
  returns), from one sender awaiting each tell, and from ``SENDERS`` concurrent senders;
  the clock stops when b has handled the ``n``-th. Baselines: ``n`` JetStream publishes to
  a file-backed stream, each awaited, from one publisher and from ``SENDERS`` concurrent
  publishers on one connection; the clock stops at the last ack. The note of each durable
  row gives the same runs timed until the last ``tell`` returned (stored, not yet handled).
- *context* (no target): what the durable mailbox asks of NATS, done with raw nats-py: each
  publish with a ``Nats-Msg-Id`` into a work-queue stream, a push consumer on another
  connection acknowledging each message; until the n-th has arrived. Its ``x baseline`` is
  the part of the durable target that NATS itself takes; the durable rows' notes give their
  ratio to it (what letta_actors adds).

One ``LocalNatsServer`` (loopback, JetStream in a temp dir) and two ``ActorSystem``s, each
in a ``ClusterRuntime`` (nodes ``a`` and ``b``), are started once for the section, in one
asyncio loop kept in an anyio blocking portal; the actors are named so that rendezvous
placement gives them to ``b``, and the section waits until both nodes agree on that before
measuring. The raw baselines open fresh connections per sample (not timed). Subjects take
turns round by round (:func:`benchmarks._core.interleave`); ``x baseline`` is the median of
the per-round ratios. cluster mode is asyncio-only, so there is no trio row.

``python -m benchmarks.profile_cluster tell|ask|durable|...`` runs one subject under cProfile.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._core import (
    Measurement,
    Plan,
    RunConfig,
    SectionResult,
    Target,
    available,
    interleave,
    percentile,
    ratio,
    section,
)
from benchmarks.cluster_baseline import (
    PAYLOAD,
    STREAM,
    check_stored,
    connect,
    core_publish,
    fresh_stream,
    request_round_trip,
)

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from letta_actors import ActorRef, ActorSystem
    from letta_actors.cluster import ClusterRuntime

#: The letta_actors subjects' message: as many characters as the raw payload has bytes.
MESSAGE = PAYLOAD.decode()
SENDERS = 16
NODES = ("a", "b")
OWNER = "b"
#: Seconds to wait for placement to settle (both nodes joined, b owning the bench actors).
SETTLE = 60.0
#: Seconds one sample may take before it is reported failed (a lost message never ends it).
SAMPLE_TIMEOUT = 120.0

CORE = "nats-py: core publish -> subscriber (another connection)"
TELL = "letta_actors: ref.tell, node a -> actor on node b"
REQUEST = "nats-py: request/reply round trip"
ASK = "letta_actors: ref.ask, node a -> actor on node b"
JS_ONE = "nats-py: JetStream publish, each awaited, 1 publisher"
DURABLE_ONE = "letta_actors: durable tell, each awaited, 1 sender, a -> b"
JS_MANY = f"nats-py: JetStream publish, each awaited, {SENDERS} concurrent publishers"
DURABLE_MANY = f"letta_actors: durable tell, each awaited, {SENDERS} concurrent senders, a -> b"

#: Context rows: what the durable mailbox asks of NATS, done with raw nats-py.
PATTERN = "nats-py: msg-id publish, work-queue stream, push consumer acking each"
PATTERN_ONE = f"{PATTERN}, 1 publisher"
PATTERN_MANY = f"{PATTERN}, {SENDERS} publishers"

TELL_METRIC = "tell throughput"
ASK_MEDIAN = "ask round trip (median)"
ASK_P99 = "ask round trip (p99)"
ONE_METRIC = "durable tell, 1 sender"
MANY_METRIC = f"durable tell, {SENDERS} senders"


@dataclass
class Tally:
    """Counts what one bench actor handled; ``done`` is set at the ``target``-th message."""

    target: int = 0
    count: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, n: int) -> None:
        """Start counting afresh towards ``n``."""
        self.target, self.count, self.done = n, 0, asyncio.Event()

    def hit(self) -> None:
        """One more message handled."""
        self.count += 1
        if self.count == self.target:
            self.done.set()

    async def wait(self, what: str) -> None:
        """Return at the ``target``-th message; ``TimeoutError`` naming the count otherwise."""
        try:
            await asyncio.wait_for(self.done.wait(), SAMPLE_TIMEOUT)
        except TimeoutError:
            raise TimeoutError(
                f"{what}: {self.count} of {self.target} messages handled within "
                f"{SAMPLE_TIMEOUT:g} s"
            ) from None


def bench_names(nodes: Sequence[str] = NODES, owner: str = OWNER) -> tuple[str, str, str]:
    """Names for the sink, echo and durable sink that rendezvous placement gives ``owner``."""
    from letta_actors.cluster import owner_of

    names: dict[str, str] = {}
    for role in ("sink", "echo", "durable-sink"):
        k = 0
        while owner_of(f"bench-{role}-{k}", nodes) != owner:
            k += 1
        names[role] = f"bench-{role}-{k}"
    return names["sink"], names["echo"], names["durable-sink"]


@dataclass
class Bench:
    """The running cluster: node a's refs to the actors that node b owns, and their tallies."""

    url: str
    sink: ActorRef[Any, Any]
    echo: ActorRef[Any, Any]
    durable: ActorRef[Any, Any]
    sink_tally: Tally
    durable_tally: Tally


@asynccontextmanager
async def cluster(url: str) -> AsyncIterator[Bench]:
    """Nodes a and b on ``url``; yields once b owns the bench actors and a reaches them."""
    from letta_actors import Actor, ActorSystem, MailboxConfig
    from letta_actors.cluster import ClusterRuntime, ClusterSettings, Placed

    sink_name, echo_name, durable_name = bench_names()
    sink_tally, durable_tally = Tally(), Tally()

    class Counter(Actor):
        def __init__(self, tally: Tally) -> None:
            self.tally = tally

        async def receive(self, message: Any) -> None:
            self.tally.hit()

    class Echo(Actor):
        async def receive(self, message: Any) -> Any:
            return message

    mailbox = MailboxConfig(capacity=10_000)

    def placed(system: ActorSystem) -> dict[str, Placed]:
        def start(name: str, factory: Callable[[], Actor], *, durable: bool = False) -> Placed:
            return Placed(partial(system.spawn, factory, name=name, mailbox=mailbox), durable)

        return {
            sink_name: start(sink_name, partial(Counter, sink_tally)),
            echo_name: start(echo_name, Echo),
            durable_name: start(durable_name, partial(Counter, durable_tally), durable=True),
        }

    async with AsyncExitStack() as stack:
        runtimes: list[ClusterRuntime] = []
        systems: list[ActorSystem] = []
        for node in NODES:
            system = await stack.enter_async_context(ActorSystem(name=f"bench-{node}"))
            settings = ClusterSettings(nats_url=url, node=node)
            runtime = ClusterRuntime(system, settings, placed(system))
            runtimes.append(await stack.enter_async_context(runtime))
            systems.append(system)
        a, b = runtimes
        names = (sink_name, echo_name, durable_name)
        await _settled(a, b, names)
        sender = systems[0]
        bench = Bench(
            url,
            sender.ref(sink_name),
            sender.ref(echo_name),
            sender.ref(durable_name),
            sink_tally,
            durable_tally,
        )
        # An answered ask proves the route to b and b's subscriptions for the actor (its tell
        # subject is subscribed before its ask subject): a core tell sent earlier is lost.
        for ref in (bench.sink, bench.echo, bench.durable):
            await ref.ask(MESSAGE, timeout=SETTLE)
        yield bench


async def _settled(a: ClusterRuntime, b: ClusterRuntime, names: Sequence[str]) -> None:
    """Poll until b owns ``names``, a sees b as their holder and has handed them over (no
    local actor of that name left on a), within ``SETTLE``."""
    deadline = time.monotonic() + SETTLE
    while True:
        owners = await a.owners()
        if all(
            b.owns(n) and owners.get(n) == b.node_name and a.system.cell(n) is None for n in names
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"placement did not settle within {SETTLE:g} s: {owners}")
        await asyncio.sleep(0.05)


# -- the letta_actors subjects ----------------------------------------------------------


async def remote_tell(bench: Bench, n: int) -> list[float]:
    """Tells per second from the first tell to the n-th handled on b."""
    bench.sink_tally.expect(n)
    tell = bench.sink.tell
    start = time.perf_counter()
    for _ in range(n):
        await tell(MESSAGE)
    await bench.sink_tally.wait("cross-node tell")
    return [n / (time.perf_counter() - start)]


async def remote_ask(bench: Bench, n: int) -> list[float]:
    """(median, p99) microseconds per sequential ask."""
    ask = bench.echo.ask
    times: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        await ask(MESSAGE, timeout=10.0)
        times.append((time.perf_counter() - start) * 1e6)
    return [statistics.median(times), percentile(times, 99)]


async def durable_tell(bench: Bench, n: int, senders: int) -> list[float]:
    """(handled, stored) tells per second: until the n-th is handled on b, and until the
    last ``tell`` returned; ``senders`` concurrent senders, each awaiting each tell."""
    bench.durable_tally.expect(n)
    tell = bench.durable.tell

    async def send(count: int) -> None:
        for _ in range(count):
            await tell(MESSAGE)

    start = time.perf_counter()
    await asyncio.gather(*(send(share) for share in _shares(n, senders)))
    stored = time.perf_counter() - start
    await bench.durable_tally.wait("durable tell")
    return [n / (time.perf_counter() - start), n / stored]


def _shares(n: int, senders: int) -> list[int]:
    """``n`` split over ``senders`` as evenly as it goes."""
    return [n // senders + (1 if k < n % senders else 0) for k in range(senders)]


# -- the raw baselines not in cluster_baseline --------------------------------------------


async def jetstream_publishers(url: str, n: int, senders: int) -> list[float]:
    """JetStream publishes per second into a file-backed stream: ``senders`` concurrent
    publishers on one connection, each awaiting each ``publish`` (its ack)."""
    subject = "bench.remote.js"
    async with fresh_stream(url, subject) as js:

        async def send(count: int) -> None:
            for _ in range(count):
                await js.publish(subject, PAYLOAD)

        start = time.perf_counter()
        await asyncio.gather(*(send(share) for share in _shares(n, senders)))
        elapsed = time.perf_counter() - start
        await check_stored(js, n)
    return [n / elapsed]


async def mailbox_pattern(url: str, n: int, senders: int) -> list[float]:
    """The durable mailbox's NATS work without letta_actors, for context: JetStream publishes
    with a ``Nats-Msg-Id`` each into a work-queue stream, ``senders`` concurrent publishers
    each awaiting each ``publish``, and a push consumer on another connection acknowledging
    each message as it arrives; messages per second until the n-th has arrived."""
    from nats.aio.msg import Msg
    from nats.js.api import AckPolicy, ConsumerConfig

    subject = "bench.remote.wq"
    tally = Tally()
    tally.expect(n)

    async def handle(msg: Msg) -> None:
        await msg.ack()
        tally.hit()

    sub = await connect(url)
    try:
        async with fresh_stream(url, subject, work_queue=True) as js:
            await sub.jetstream().subscribe(
                subject,
                durable="bench",
                stream=STREAM,
                cb=handle,
                manual_ack=True,
                config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=10_000),
            )
            ids = iter(range(n))

            async def send(count: int) -> None:
                for _ in range(count):
                    await js.publish(subject, PAYLOAD, headers={"Nats-Msg-Id": f"m{next(ids)}"})

            start = time.perf_counter()
            await asyncio.gather(*(send(share) for share in _shares(n, senders)))
            await tally.wait("raw mailbox pattern")
            elapsed = time.perf_counter() - start
    finally:
        await sub.close()
    return [n / elapsed]


# -- the section --------------------------------------------------------------------------


@dataclass
class _Rows:
    """Every measurement of the section, by subject."""

    core: Measurement
    tell: Measurement
    request: list[Measurement]
    ask: list[Measurement]
    js_one: Measurement
    durable_one: Measurement
    js_many: Measurement
    durable_many: Measurement
    #: Context: the durable mailbox's NATS work done with raw nats-py.
    pattern_one: Measurement
    pattern_many: Measurement
    #: Not printed: the durable runs timed until the last tell returned, for the notes.
    stored_one: Measurement
    stored_many: Measurement

    @property
    def printed(self) -> list[Measurement]:
        return [
            self.core,
            self.tell,
            *self.request,
            *self.ask,
            self.js_one,
            self.pattern_one,
            self.durable_one,
            self.js_many,
            self.pattern_many,
            self.durable_many,
        ]


def _rows(n_tell: int, n_ask: int, n_one: int, n_many: int) -> _Rows:
    def rate(subject: str, metric: str, note: str, *, baseline: bool = False) -> Measurement:
        return Measurement(subject, metric, "msg/s", "higher", baseline=baseline, note=note)

    def round_trips(subject: str, note: str, *, baseline: bool = False) -> list[Measurement]:
        return [
            Measurement(subject, metric, "us", "lower", baseline=baseline, note=note)
            for metric in (ASK_MEDIAN, ASK_P99)
        ]

    size = f"{len(PAYLOAD)} B"
    one, many = f"{n_one:,} messages of {size}", f"{n_many:,} messages of {size}"
    return _Rows(
        core=rate(CORE, TELL_METRIC, f"{n_tell:,} messages of {size}", baseline=True),
        tell=rate(TELL, TELL_METRIC, f"{n_tell:,} tells of {size}, until handled on b"),
        request=round_trips(REQUEST, f"{n_ask:,} sequential requests of {size}", baseline=True),
        ask=round_trips(ASK, f"{n_ask:,} sequential asks of {size}"),
        js_one=rate(JS_ONE, ONE_METRIC, f"{one}, file storage", baseline=True),
        durable_one=rate(DURABLE_ONE, ONE_METRIC, f"{one}, until handled on b"),
        js_many=rate(JS_MANY, MANY_METRIC, f"{many}, file storage, one connection", baseline=True),
        durable_many=rate(DURABLE_MANY, MANY_METRIC, f"{many}, until handled on b"),
        pattern_one=rate(PATTERN_ONE, ONE_METRIC, f"{one}; context, not a target"),
        pattern_many=rate(PATTERN_MANY, MANY_METRIC, f"{many}; context, not a target"),
        stored_one=rate(DURABLE_ONE, ONE_METRIC, ""),
        stored_many=rate(DURABLE_MANY, MANY_METRIC, ""),
    )


def _targets() -> list[Target]:
    return [
        Target("cross-node tell >= 0.5x raw nats-py core publish", TELL, TELL_METRIC, ">=", 0.5,
               relative=True),
        Target("cross-node ask median <= 1.5x a raw nats-py request round trip", ASK, ASK_MEDIAN,
               "<=", 1.5, relative=True),
        Target("durable tell, 1 sender >= 0.5x raw JetStream publish (each awaited)",
               DURABLE_ONE, ONE_METRIC, ">=", 0.5, relative=True),
        Target(f"durable tell, {SENDERS} senders >= 0.5x {SENDERS} raw JetStream publishers "
               "(each awaited)", DURABLE_MANY, MANY_METRIC, ">=", 0.5, relative=True),
    ]  # fmt: skip


@section("cluster_remote", "cross-node tell, ask and durable tell vs raw nats-py (issue 13)")
def run(cfg: RunConfig) -> SectionResult:
    """Two nodes in one process on one local nats-server; subjects take turns."""
    n_tell = cfg.size(100_000, 500)
    n_ask = cfg.size(5_000, 50)
    n_one = cfg.size(2_000, 50)
    n_many = cfg.size(10_000, 200)
    rows = _rows(n_tell, n_ask, n_one, n_many)
    result = SectionResult(
        measurements=rows.printed,
        targets=_targets(),
        paired=True,
        notes=[
            "nodes a and b are two ActorSystems, each in a ClusterRuntime, in one process and "
            "one asyncio loop with the raw nats-py baselines; one nats-server on loopback",
        ],
    )
    if not available("nats"):
        for m in rows.printed:
            m.skipped = "the cluster extra is not installed (pip install 'letta-actors[cluster]')"
        return result

    from anyio.from_thread import start_blocking_portal

    from letta_actors.cluster import LocalNatsServer

    with tempfile.TemporaryDirectory(prefix="bench-remote-") as tmp:
        server = LocalNatsServer(Path(tmp))
        server.start()
        try:
            with start_blocking_portal(backend="asyncio") as portal:
                _measure(cfg, portal, server.url, rows, (n_tell, n_ask, n_one, n_many))
        finally:
            server.stop()
    for handled, stored, pattern in (
        (rows.durable_one, rows.stored_one, rows.pattern_one),
        (rows.durable_many, rows.stored_many, rows.pattern_many),
    ):
        base = result.baseline_for(handled.metric)
        vs = ratio(stored, base, paired=True) if base is not None else None
        if vs is not None and stored.value is not None:
            handled.note += f"; until the last tell returned: {stored.value:,.0f} msg/s, {vs:.2f}x"
        vs_pattern = ratio(handled, pattern, paired=True)
        if vs_pattern is not None:
            handled.note += f"; {vs_pattern:.2f}x the raw mailbox pattern"
    return result


def _measure(
    cfg: RunConfig,
    portal: BlockingPortal,
    url: str,
    rows: _Rows,
    sizes: tuple[int, int, int, int],
) -> None:
    """Interleave every subject; if the cluster does not come up, the baselines alone."""
    n_tell, n_ask, n_one, n_many = sizes

    def on(fn: Callable[..., Awaitable[list[float]]], *args: Any) -> Callable[[], list[float]]:
        return lambda: portal.call(partial(fn, *args))

    baselines: Plan = [
        ([rows.core], on(core_publish, url, n_tell)),
        (rows.request, on(request_round_trip, url, n_ask)),
        ([rows.js_one], on(jetstream_publishers, url, n_one, 1)),
        ([rows.js_many], on(jetstream_publishers, url, n_many, SENDERS)),
        ([rows.pattern_one], on(mailbox_pattern, url, n_one, 1)),
        ([rows.pattern_many], on(mailbox_pattern, url, n_many, SENDERS)),
    ]
    with ExitStack() as stack:
        try:
            bench = stack.enter_context(portal.wrap_async_context_manager(cluster(url)))
        except Exception as exc:
            for m in (rows.tell, *rows.ask, rows.durable_one, rows.durable_many):
                m.skipped = f"the cluster did not start: {type(exc).__name__}: {exc}"
            interleave(cfg, baselines)
            return
        core, request, js_one, js_many, pattern_one, pattern_many = baselines
        plan: Plan = [
            core,
            ([rows.tell], on(remote_tell, bench, n_tell)),
            request,
            (rows.ask, on(remote_ask, bench, n_ask)),
            js_one,
            pattern_one,
            ([rows.durable_one, rows.stored_one], on(durable_tell, bench, n_one, 1)),
            js_many,
            pattern_many,
            ([rows.durable_many, rows.stored_many], on(durable_tell, bench, n_many, SENDERS)),
        ]
        interleave(cfg, plan)
