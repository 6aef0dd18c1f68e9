"""The extension point: integrations' counters in ActorStats.extensions, exported at scrape."""

from __future__ import annotations

import pytest

from letta_actors import ActorSystem
from letta_actors.letta import LettaStats
from letta_actors.metrics import PREFIX, SystemMetrics

from .helpers import Worker, parse, series, value

pytestmark = pytest.mark.anyio

P = PREFIX
SERVER = "http://letta:8283"


class Unexported:
    """Counters without ``metrics_exporter``: kept on the actor, not exported."""

    hits = 3


async def test_retired_letta_agents_stay_in_their_group() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system, labels="group")
        for name in ("a1", "a2"):
            ref = await system.spawn(Worker, name=name)
            await ref.ask("hi", timeout=5)
            cell = system.cell(name)
            assert cell is not None
            letta = LettaStats.attach(cell.stats, SERVER)
            letta.requests["ok"] += 2
            letta.prompt_tokens += 10
            letta.tool_calls["search"] += 1
            letta.duration.observe(1.0)
        labels = {"group": "Worker", "server": SERVER}
        s = parse(metrics.scrape())
        assert value(s, P + "letta_tokens_total", **labels, kind="prompt") == 20
        assert value(s, P + "letta_circuit_breaker_state", **labels, state="closed") == 2

        await system.stop("a1")
        await system.stop("a2")  # both for good: their totals stay, no breaker counted
        s = parse(metrics.scrape())
        assert value(s, P + "letta_tokens_total", **labels, kind="prompt") == 20
        assert value(s, P + "letta_requests_total", **labels, status="ok") == 4
        assert value(s, P + "letta_tool_calls_total", **labels, tool="search") == 2
        assert value(s, P + "letta_request_duration_seconds_count", **labels) == 2
        assert value(s, P + "letta_circuit_breaker_state", **labels, state="closed") == 0

        ref = await system.spawn(Worker, name="a3")  # a newcomer adds to the retired totals
        await ref.ask("hi", timeout=5)
        cell = system.cell("a3")
        assert cell is not None
        LettaStats.attach(cell.stats, SERVER).prompt_tokens = 5
        s = parse(metrics.scrape())
        assert value(s, P + "letta_tokens_total", **labels, kind="prompt") == 25
        assert value(s, P + "letta_circuit_breaker_state", **labels, state="closed") == 1


async def test_attached_counters_are_shared_and_types_without_exporter_are_skipped() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        await system.spawn(Worker, name="a")
        cell = system.cell("a")
        assert cell is not None
        assert LettaStats.of(cell.stats) is None
        assert "letta_requests_total" not in metrics.scrape().decode()  # none met yet
        cell.stats.extension(Unexported, Unexported)
        letta = LettaStats.attach(cell.stats, SERVER)
        assert LettaStats.attach(cell.stats, "http://elsewhere") is letta  # attached once
        assert LettaStats.of(cell.stats) is letta
        assert cell.stats.find(Unexported) is not None
        letta.steps = 4
        s = parse(metrics.scrape())
        assert value(s, P + "letta_steps_total", actor="a", server=SERVER) == 4

        await system.stop("a")  # actor labels: its series go, the families stay
        text = metrics.scrape().decode()
        assert not series(parse(text), P + "letta_steps_total")
        assert "# TYPE letta_actors_letta_steps_total counter" in text


async def test_two_collectors_keep_their_own_exporters() -> None:
    async with ActorSystem() as system:
        one = SystemMetrics(system, max_label_values=1)
        two = SystemMetrics(system)
        await system.spawn(Worker, name="a")
        cell = system.cell("a")
        assert cell is not None
        letta = LettaStats.attach(cell.stats, SERVER)
        letta.tool_calls.update({"t1": 1, "t2": 1})
        s1, s2 = parse(one.scrape()), parse(two.scrape())
        labels = {"actor": "a", "server": SERVER}
        assert value(s1, P + "letta_tool_calls_total", **labels, tool="__other__") == 1
        assert value(s2, P + "letta_tool_calls_total", **labels, tool="t2") == 1
