"""Scraping 1,000 actors: correct, and the time it takes is *measured* (printed, not asserted).

Run with ``-s`` to see the figures (docs/metrics.md quotes them).
"""

from __future__ import annotations

import time

import httpx
import pytest

from letta_actors import ActorSystem
from letta_actors.metrics import SystemMetrics

from .helpers import Worker, parse, value

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
