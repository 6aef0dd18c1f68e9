"""Scraping many actors: correct, no work per actor when nothing changed, and the time it takes
is *measured* (printed, not asserted; ``python -m benchmarks --only scale`` measures 10,000).

Run with ``-s`` to see the figures (docs/metrics.md quotes them).
"""

from __future__ import annotations

import random
import time

import anyio
import anyio.lowlevel
import httpx
import pytest
from prometheus_client.metrics_core import Metric

from letta_actors import ActorSystem
from letta_actors.actors._info import ActorInfo
from letta_actors.metrics import SystemMetrics
from letta_actors.metrics._buckets import NB, BucketSums
from letta_actors.metrics._exposition import respond
from letta_actors.metrics._index import CHUNK

from .helpers import Worker, parse, value

P = "letta_actors_"

pytestmark = pytest.mark.anyio

N = 1000


def best_of(runs: int, fn: object) -> float:
    assert callable(fn)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


async def test_scrape_of_1000_actors(anyio_backend: str) -> None:
    async with ActorSystem() as system:
        refs = [await system.spawn(Worker, name=f"w{i}") for i in range(N)]
        for ref in refs:
            await ref.tell("hi")
        for ref in refs:
            await ref.ask("done", timeout=30)
        figures: dict[str, float] = {}
        for mode in ("actor", "group"):
            metrics = SystemMetrics(system, labels="group" if mode == "group" else "actor")
            collect = best_of(5, lambda m=metrics: list(m.registry.collect()))
            text = best_of(5, lambda m=metrics: m.scrape())
            om = best_of(5, lambda m=metrics: m.scrape(openmetrics=True))
            body = metrics.scrape()
            samples = parse(body)
            if mode == "actor":
                assert value(samples, "letta_actors_messages_received_total", actor="w999") == 2
                assert len(samples) > 50 * N
            else:
                assert value(samples, "letta_actors_messages_received_total", group="Worker") == (
                    2 * N
                )
            async with metrics.serving() as server, httpx.AsyncClient() as client:
                http = float("inf")
                for _ in range(5):
                    start = time.perf_counter()
                    response = await client.get(server.url)  # gzip, as Prometheus asks
                    http = min(http, time.perf_counter() - start)
                    assert response.status_code == 200
            metrics.close()
            figures.update({
                f"{mode}: collect": collect,
                f"{mode}: text": text,
                f"{mode}: openmetrics": om,
                f"{mode}: http+gzip": http,
                f"{mode}: samples": len(samples),
                f"{mode}: bytes": len(body),
            })  # fmt: skip
        print(f"\nscrape of {N} actors ({anyio_backend}), best of 5:")
        for key, figure in figures.items():
            shown = f"{figure * 1000:.1f} ms" if isinstance(figure, float) else f"{figure}"
            print(f"  {key:<22} {shown}")


@pytest.mark.parametrize("labels", ["actor", "group"])
async def test_a_scrape_makes_no_object_per_actor_when_no_actor_came_or_went(
    anyio_backend: str, labels: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    of = ActorInfo.of

    def counted(cell: object) -> ActorInfo:
        info = of(cell)  # type: ignore[arg-type]
        made.append(info.name)
        return info

    async with ActorSystem() as system:
        refs = [await system.spawn(Worker, name=f"w{i}") for i in range(50)]
        metrics = SystemMetrics(system, labels="group" if labels == "group" else "actor")
        first = parse(metrics.scrape())
        for ref in refs:
            await ref.ask("hi", timeout=5)
        monkeypatch.setattr(ActorInfo, "of", counted)
        s = parse(metrics.scrape())  # new counts, the same actors: read in place
        assert made == []
        subject = {"group": "Worker"} if labels == "group" else {"actor": "w49"}
        received = P + "messages_received_total"
        assert value(s, received, **subject) == value(first, received, **subject) + (
            50 if labels == "group" else 1
        )
        await system.spawn(Worker, name="late")
        s = parse(metrics.scrape())
        # only the newcomer is looked at (for its group), and it is exported
        assert made == (["late"] if labels == "group" else [])
        assert value(s, P + "actors", **({"group": "Worker"} if labels == "group" else {}),
                     state="running") == (51 if labels == "group" else 52)  # fmt: skip


def test_bucket_sums_follow_members_and_changes_exactly() -> None:
    rng = random.Random(10)
    sums = BucketSums()
    live: dict[int, list[int]] = {}
    next_id = 0
    for _ in range(300):
        action = rng.random()
        if action < 0.2 or not live:  # a member comes
            live[next_id] = [rng.randrange(3) for _ in range(NB)]
            sums.add(next_id, live[next_id])
            next_id += 1
        elif action < 0.3:  # a member goes
            sid = rng.choice(list(live))
            sums.remove(sid)
            del live[sid]
        else:  # some members observe values (in place, as the runtime does)
            for sid in rng.sample(list(live), k=rng.randint(1, len(live))):
                live[sid][rng.randrange(NB)] += rng.randint(1, 300)
        columns = zip(*live.values(), strict=True)
        assert sums.read(live) == ([sum(column) for column in columns] if live else [0] * NB)


MANY = 5000


class _Turns:
    """Counts the turns a task takes; a collector that notes the count when it is collected."""

    def __init__(self) -> None:
        self.turns = 0
        self.done = anyio.Event()
        self.seen: list[int] = []

    async def count(self) -> None:
        while not self.done.is_set():
            self.turns += 1
            await anyio.lowlevel.checkpoint()

    def collect(self) -> list[Metric]:
        self.seen.append(self.turns)
        return []


async def test_a_scrape_of_many_actors_lets_the_loop_run_while_it_reads(
    anyio_backend: str,
) -> None:
    async with ActorSystem() as system:
        refs = [await system.spawn(Worker, name=f"w{i}") for i in range(MANY)]
        for ref in refs[:20]:
            await ref.ask("hi", timeout=5)
        for labels in ("group", "actor"):
            with SystemMetrics(system, labels="group" if labels == "group" else "actor") as m:
                turns = _Turns()
                m.registry.register(turns)  # collected after the system's collector
                async with anyio.create_task_group() as tg:
                    tg.start_soon(turns.count)
                    response = await respond(m.registry, "GET", compress=False)
                    turns.done.set()
                # another task ran between the chunks the scrape read (none without chunks)
                assert turns.seen[0] >= MANY // CHUNK
                # and the output is that of a scrape read at once
                assert response.body == m.scrape()


async def test_actors_that_stop_during_a_chunked_scrape_count_once(anyio_backend: str) -> None:
    async with ActorSystem() as system:
        refs = [await system.spawn(Worker, name=f"w{i}") for i in range(3 * CHUNK)]
        for ref in refs:
            await ref.ask("hi", timeout=5)
        m = SystemMetrics(system, labels="group")
        received = P + "messages_received_total"
        scraped = [value(parse(m.scrape()), received, group="Worker")]
        async with anyio.create_task_group() as tg:
            for ref in refs[::7]:  # they stop while the scrape reads, between its chunks
                tg.start_soon(system.stop, ref.name)
            for _ in range(3):
                response = await respond(m.registry, "GET", compress=False)
                scraped.append(value(parse(response.body), received, group="Worker"))
        scraped.append(value(parse(m.scrape()), received, group="Worker"))
        assert scraped == sorted(scraped)  # never backwards
        assert scraped[-1] == 3 * CHUNK  # the stopped ones counted once
        # newcomers fill the shards the stopped ones left
        for i in range(CHUNK + 100):
            await (await system.spawn(Worker, name=f"new{i}")).ask("hi", timeout=5)
        response = await respond(m.registry, "GET", compress=False)
        assert response.body == m.scrape()
        s = parse(response.body)
        assert value(s, received, group="Worker") == 4 * CHUNK + 100
        running = 3 * CHUNK - len(refs[::7]) + CHUNK + 100
        assert value(s, P + "actors", group="Worker", state="running") == running
        assert len(m.collector._registry.members["Worker"]) == -(-running // CHUNK)


async def test_a_collect_during_a_chunked_scrape_makes_it_read_at_once(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ActorSystem() as system:
        refs = [await system.spawn(Worker, name=f"w{i}") for i in range(2 * CHUNK)]
        for ref in refs[:10]:
            await ref.ask("hi", timeout=5)
        m = SystemMetrics(system, labels="group")
        reads: list[object] = []
        read = m.collector._read

        def counted() -> object:
            reads.append(None)
            return read()

        monkeypatch.setattr(m.collector, "_read", counted)
        meanwhile: list[object] = []

        async def collect_meanwhile() -> None:
            while not m.collector._in_refresh:  # until the scrape has begun its chunked read
                await anyio.lowlevel.checkpoint()
            meanwhile.append(parse(m.scrape()))

        async with anyio.create_task_group() as tg:
            tg.start_soon(collect_meanwhile)
            response = await respond(m.registry, "GET", compress=False)
        # the refresh gave up when the synchronous scrape read; respond's collect read again
        assert len(reads) == 3
        assert parse(response.body) == meanwhile[0]
        assert value(meanwhile[0], P + "messages_received_total", group="Worker") == 10
