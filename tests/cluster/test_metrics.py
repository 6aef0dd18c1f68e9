"""The cluster series of a node (``cluster_collector``): read at scrape time, named and typed as
documented, valid for promtool; and the cluster alerts cover the issue with catalog names."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS

from letta_actors.cluster import CLUSTER_METRICS, cluster_collector
from letta_actors.cluster._stats import ClusterStats
from letta_actors.metrics import render

from ..metrics.helpers import Samples, parse, parse_om, require_tool, series, value

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
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
        "LettaActorsClusterActorOwnedTwice",
        "LettaActorsClusterLeaseLost",
        "LettaActorsClusterFailovers",
        "LettaActorsClusterStreamLagGrowing",
        "LettaActorsClusterRemoteSendFailures",
    } <= alerts
    used = set(re.findall(r"letta_actors_cluster_\w+", text))
    assert used <= {spec.name for spec in CLUSTER_METRICS}, used


def test_docs_list_each_cluster_series_with_its_type_and_labels() -> None:
    rows = {
        cells[1].strip("`"): (cells[2], tuple(label.strip("` ") for label in cells[3].split(",")))
        for line in DOC.read_text().splitlines()
        if line.startswith("| `letta_actors_cluster_")
        for cells in [[cell.strip() for cell in line.split("|")]]
    }
    assert rows == {spec.name: (spec.kind, spec.labels) for spec in CLUSTER_METRICS}
