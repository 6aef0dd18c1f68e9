"""The cluster series of a node (``cluster_collector``): read at scrape time, named and typed as
documented, valid for promtool, true to a real ``ClusterRuntime``; and the cluster alerts cover
the issue with catalog names."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS

from letta_actors import ActorSystem
from letta_actors.cluster import (
    CLUSTER_METRICS,
    ClusterRuntime,
    ClusterStats,
    LocalNatsServer,
    Placed,
    cluster_collector,
    owner_of,
)
from letta_actors.metrics import SystemMetrics, render

from ..helpers import Echo, Gate, gate_parts, wait_until
from ..metrics.helpers import Samples, parse, parse_om, require_tool, series, value
from .helpers import DEADLINE, settings

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "letta-actors.json"
DOC = ROOT / "docs" / "metrics.md"
COUNTER_FIELDS = [f.name for f in dataclasses.fields(ClusterStats)]


@dataclass
class FakeRuntime:
    """What a ``ClusterRuntime`` shows the collector, settable by the test."""

    node_name: str = "n1"
    stats: ClusterStats = field(default_factory=ClusterStats)
    lag: dict[str, int] = field(default_factory=dict)
    ready: bool = False
    holding: list[str] = field(default_factory=list)
    placed: dict[str, object] = field(default_factory=lambda: dict.fromkeys("abc"))

    def owned(self) -> list[str]:
        return list(self.holding)


def registry_of(runtime: FakeRuntime) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(cluster_collector(runtime))
    return registry


def scrape(registry: CollectorRegistry, *, openmetrics: bool = False) -> bytes:
    accept = OPENMETRICS if openmetrics else CONTENT_TYPE_PLAIN_0_0_4
    return render(registry, accept, compress=False).body


def busy_node() -> FakeRuntime:
    stats = ClusterStats(**{name: i + 1 for i, name in enumerate(COUNTER_FIELDS)})
    return FakeRuntime(
        stats=stats, lag={"writer": 7, "critic": 0}, ready=True, holding=["writer", "critic"]
    )


@pytest.mark.parametrize("openmetrics", [False, True])
def test_every_series_of_a_node_with_its_value(openmetrics: bool) -> None:
    runtime = busy_node()
    body = scrape(registry_of(runtime), openmetrics=openmetrics)
    samples: Samples = parse_om(body) if openmetrics else parse(body)

    p = "letta_actors_cluster_"
    assert value(samples, p + "placed_actors", node="n1") == 3
    assert value(samples, p + "owned_actors", node="n1") == 2
    assert series(samples, p + "actor_owned") == [
        {"node": "n1", "actor": "critic"},
        {"node": "n1", "actor": "writer"},
    ]
    assert value(samples, p + "actor_owned", node="n1", actor="writer") == 1
    for i, name in enumerate(COUNTER_FIELDS):  # every counter of ClusterStats, as itself
        assert value(samples, f"{p}{name}_total", node="n1") == i + 1
    assert value(samples, p + "stream_lag_messages", node="n1", actor="writer") == 7
    assert value(samples, p + "stream_lag_messages", node="n1", actor="critic") == 0
    assert value(samples, p + "node_ready", node="n1") == 1
    names = {re.sub(r"_created$", "", name) for name, _ in samples}
    assert names == {spec.name for spec in CLUSTER_METRICS}


def test_the_runtime_is_read_at_each_scrape_not_before() -> None:
    runtime = FakeRuntime(node_name="n2")
    registry = registry_of(runtime)
    first = parse(scrape(registry))
    assert value(first, "letta_actors_cluster_node_ready", node="n2") == 0
    assert value(first, "letta_actors_cluster_owned_actors", node="n2") == 0
    assert series(first, "letta_actors_cluster_actor_owned") == []
    assert series(first, "letta_actors_cluster_stream_lag_messages") == []

    runtime.ready = True
    runtime.holding = ["a"]
    runtime.lag["a"] = 3
    runtime.stats.failovers += 1
    runtime.stats.lease_renewals += 5
    second = parse(scrape(registry))
    assert value(second, "letta_actors_cluster_node_ready", node="n2") == 1
    assert value(second, "letta_actors_cluster_actor_owned", node="n2", actor="a") == 1
    assert value(second, "letta_actors_cluster_stream_lag_messages", node="n2", actor="a") == 3
    assert value(second, "letta_actors_cluster_failovers_total", node="n2") == 1
    assert value(second, "letta_actors_cluster_lease_renewals_total", node="n2") == 5

    # A lost actor's series go (Prometheus marks them stale); the counters stay.
    runtime.holding = []
    runtime.lag.clear()
    runtime.stats.lease_losses += 1
    third = parse(scrape(registry))
    assert value(third, "letta_actors_cluster_owned_actors", node="n2") == 0
    assert series(third, "letta_actors_cluster_actor_owned") == []
    assert series(third, "letta_actors_cluster_stream_lag_messages") == []
    assert value(third, "letta_actors_cluster_lease_losses_total", node="n2") == 1
    assert value(third, "letta_actors_cluster_failovers_total", node="n2") == 1


def test_registering_a_node_twice_in_one_registry_is_refused() -> None:
    registry = registry_of(FakeRuntime())
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(cluster_collector(FakeRuntime(node_name="other")))


def test_families_follow_the_naming_rules() -> None:
    for spec in CLUSTER_METRICS:
        assert spec.name.startswith("letta_actors_cluster_"), spec.name
        assert "node" in spec.labels, spec.name
        assert spec.name.endswith("_total") == (spec.kind == "counter"), spec.name
    assert len({spec.name for spec in CLUSTER_METRICS}) == len(CLUSTER_METRICS)


@pytest.mark.prometheus
def test_promtool_check_metrics_on_the_cluster_series() -> None:
    promtool = require_tool("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape(registry_of(busy_node())),
        capture_output=True,
        timeout=60,
        check=False,
    )
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, output
    assert output.strip() == "", output  # no lint findings at all


def test_cluster_alerts_cover_the_issue_with_cluster_series() -> None:
    text = RULES.read_text()
    alerts = set(re.findall(r"^\s*- alert: (\w+)$", text, re.MULTILINE))
    assert {
        "LettaActorsClusterNodeNotReady",
        "LettaActorsClusterNodeGone",
        "LettaActorsClusterActorUnowned",
        "LettaActorsClusterActorsWithoutOwner",
        "LettaActorsClusterActorOwnedTwice",
        "LettaActorsClusterLeaseLost",
        "LettaActorsClusterFailovers",
        "LettaActorsClusterStreamLagGrowing",
        "LettaActorsClusterRemoteSendFailures",
    } <= alerts
    used = set(re.findall(r"letta_actors_cluster_\w+", text))
    assert used <= {spec.name for spec in CLUSTER_METRICS}, used


def test_the_dashboard_shows_the_cluster() -> None:
    """Its queries are checked as PromQL with the others (tests/metrics/test_promtool.py)."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = "\n".join(
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())
    )
    shown = set(re.findall(r"letta_actors_cluster_\w+", queries))
    assert shown <= {spec.name for spec in CLUSTER_METRICS}, shown
    hidden = {spec.name for spec in CLUSTER_METRICS} - shown
    assert hidden == {"letta_actors_cluster_acquisitions_total"}, hidden  # failovers + hand-overs


def test_docs_list_each_cluster_series_with_its_type_and_labels() -> None:
    rows = {
        cells[1].strip("`"): (cells[2], tuple(label.strip("` ") for label in cells[3].split(",")))
        for line in DOC.read_text().splitlines()
        if line.startswith("| `letta_actors_cluster_")
        for cells in [[cell.strip() for cell in line.split("|")]]
    }
    assert rows == {spec.name: (spec.kind, spec.labels) for spec in CLUSTER_METRICS}


# -- a real runtime ---------------------------------------------------------------------------

#: Placed actors of the real nodes; ``d`` is durable. Placement is rendezvous hashing, so which
#: node owns which actor is known in advance (checked below).
PLACED = ("a", "b", "c", "d")


@asynccontextmanager
async def real_node(
    server: LocalNatsServer, name: str, gate: tuple[anyio.Event, anyio.Event, list[object]]
) -> AsyncIterator[tuple[ClusterRuntime, SystemMetrics]]:
    """A node as the daemon makes it: its system's metrics, the cluster collector beside them.
    ``d`` is a :class:`Gate` on ``gate`` (shared by the nodes), the others echo."""
    async with ActorSystem(name=name) as system:

        def placed(actor: str) -> Placed:
            async def spawn() -> None:
                if actor == "d":
                    await system.spawn(lambda: Gate(*gate), name=actor)
                else:
                    await system.spawn(Echo, name=actor)

            return Placed(spawn=spawn, durable=actor == "d")

        runtime = ClusterRuntime(system, settings(server, name), {a: placed(a) for a in PLACED})
        metrics = SystemMetrics(system)
        metrics.registry.register(cluster_collector(runtime))
        async with runtime:
            yield runtime, metrics


def cluster_value(metrics: SystemMetrics, name: str, **labels: str) -> float:
    return value(parse(metrics.scrape()), "letta_actors_cluster_" + name, **labels)


@pytest.mark.anyio
async def test_real_nodes_export_ownership_hand_overs_remote_traffic_and_lag(
    nats_server: LocalNatsServer,
) -> None:
    share = {actor: owner_of(actor, ["n1", "n2"]) for actor in PLACED}
    on_n2 = sorted(actor for actor, node in share.items() if node == "n2")
    assert on_n2 and len(on_n2) < len(PLACED) and "d" in on_n2, share  # both nodes own some

    gate = gate_parts()
    opened, entered, _ = gate
    with anyio.fail_after(DEADLINE):
        async with AsyncExitStack() as stack:
            n1, m1 = await stack.enter_async_context(real_node(nats_server, "n1", gate))
            # Alone, n1 owns every placed actor once its first pass is done.
            assert cluster_value(m1, "node_ready", node="n1") == 1
            assert cluster_value(m1, "placed_actors", node="n1") == len(PLACED)
            assert cluster_value(m1, "owned_actors", node="n1") == len(PLACED)
            assert cluster_value(m1, "acquisitions_total", node="n1") == len(PLACED)
            await wait_until(lambda: n1.stats.lease_renewals > 0, what="a renewal")
            assert cluster_value(m1, "lease_renewals_total", node="n1") > 0
            # The system's series and the node's come from one registry (one /metrics).
            assert b'letta_actors_messages_received_total{actor="a"}' in m1.scrape()

            async with real_node(nats_server, "n2", gate) as (n2, m2):
                # A lease shows in owned() at once; the acquisition is counted once the actor
                # is spawned and served.
                await wait_until(
                    lambda: (
                        n2.stats.acquisitions == len(on_n2)
                        and sorted(n2.owned()) == on_n2
                        and len(n1.owned()) == len(PLACED) - len(on_n2)
                    ),
                    timeout=DEADLINE,
                    what="n2 took its share",
                )
                scrape2 = parse(m2.scrape())
                assert series(scrape2, "letta_actors_cluster_actor_owned") == [
                    {"node": "n2", "actor": actor} for actor in on_n2
                ]
                assert cluster_value(m1, "handovers_total", node="n1") == len(on_n2)
                assert cluster_value(m2, "acquisitions_total", node="n2") == len(on_n2)
                assert cluster_value(m2, "failovers_total", node="n2") == 0

                for actor in on_n2:  # from n1 to n2: counted on both sides
                    assert await n1.system.bus.ask(actor, "hi", timeout=DEADLINE) == "hi"
                assert cluster_value(m1, "remote_sends_total", node="n1") == len(on_n2)
                assert cluster_value(m1, "remote_send_failures_total", node="n1") == 0
                assert cluster_value(m2, "remote_received_total", node="n2") == len(on_n2)

                # The durable actor's stream lag (sampled every renewal interval): d holds
                # the first of 4 durable tells, none acknowledged until handled.
                for message in ("wait", 1, 2, 3):
                    await n1.system.bus.tell("d", message)
                await entered.wait()
                await wait_until(lambda: n2.lag.get("d") == 4, timeout=DEADLINE, what="lag 4")
                assert cluster_value(m2, "stream_lag_messages", node="n2", actor="d") == 4
                opened.set()
                await wait_until(lambda: n2.lag.get("d") == 0, timeout=DEADLINE, what="lag 0")
                assert cluster_value(m2, "stream_lag_messages", node="n2", actor="d") == 0

            # n2 left: its collector still answers (not ready, nothing owned); n1 takes over.
            assert cluster_value(m2, "node_ready", node="n2") == 0
            assert cluster_value(m2, "owned_actors", node="n2") == 0
            assert cluster_value(m2, "handovers_total", node="n2") == len(on_n2)
            await wait_until(
                lambda: n1.stats.acquisitions == len(PLACED) + len(on_n2),
                timeout=DEADLINE,
                what="n1 took n2's actors back",
            )
            assert cluster_value(m1, "owned_actors", node="n1") == len(PLACED)
            assert cluster_value(m1, "failovers_total", node="n1") == 0  # released, not lost
