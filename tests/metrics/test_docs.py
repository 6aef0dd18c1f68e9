"""docs/metrics.md documents every metric of the catalog, with its type."""

from __future__ import annotations

from pathlib import Path

from letta_actors.cluster import CLUSTER_METRICS
from letta_actors.letta import LETTA_METRICS
from letta_actors.metrics import CATALOG

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_metric_is_documented_with_its_type() -> None:
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2].strip()
        for line in DOC.read_text().splitlines()
        if line.startswith("| `letta_actors_")
    }
    assert rows == {spec.name: spec.kind for spec in (*CATALOG, *LETTA_METRICS, *CLUSTER_METRICS)}
