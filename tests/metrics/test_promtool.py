"""``promtool`` on a real scrape, on the alerting rules and on the dashboard's queries.

promtool comes from the Debian package ``prometheus``; these tests FAIL (never skip) without it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from letta_actors import ActorSystem, AskTimeout
from letta_actors.cluster import CLUSTER_METRICS
from letta_actors.letta import LETTA_METRICS, LettaStats
from letta_actors.metrics import CATALOG, SystemMetrics

from .helpers import Hold, Worker, wait_restarted

pytestmark = pytest.mark.prometheus

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts.test.yml"
DASHBOARD = DEPLOY / "grafana" / "letta-actors.json"
NAMES = {spec.name for spec in (*CATALOG, *LETTA_METRICS, *CLUSTER_METRICS)}


def run(promtool: str, *args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(
        [promtool, *args], input=stdin, capture_output=True, timeout=60, check=False
    )
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


async def busy_system_scrape(labels: str, openmetrics: bool) -> bytes:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system, labels="group" if labels == "group" else "actor")
        a = await system.spawn(Worker, name="a")
        await system.spawn(Worker, name='odd "name"\\\n')
        await a.tell("boom")
        await wait_restarted(system, "a", 1)
        hold = Hold()
        with pytest.raises(AskTimeout):
            await a.ask(hold, timeout=0.01)
        hold.release()
        await a.ask("x", timeout=5)
        await system.bus.tell("nobody", 1)
        await system.bus.publish("news", 1)
        cell = system.cell("a")
        assert cell is not None
        letta = LettaStats.attach(cell.stats, "http://letta:8283")
        letta.requests.update({"ok": 2, "timeout": 1})
        letta.duration.observe(12.0)
        letta.prompt_tokens, letta.completion_tokens, letta.steps = 10, 5, 2
        letta.tool_calls["search"] += 1
        return metrics.scrape(openmetrics=openmetrics)


@pytest.mark.anyio
@pytest.mark.parametrize("labels", ["actor", "group"])
async def test_promtool_check_metrics_on_a_real_scrape(promtool: str, labels: str) -> None:
    body = await busy_system_scrape(labels, openmetrics=False)
    output = run(promtool, "check", "metrics", stdin=body)
    assert output.strip() == "", output  # no lint findings at all


# `promtool check metrics` lints the Prometheus text format only (it reads OpenMetrics counter
# families, named without `_total`, as samples without help). The OpenMetrics output is checked
# by prometheus-client's strict OpenMetrics parser (test_collector, test_endpoints) and by a
# real Prometheus server, which negotiates OpenMetrics (test_prometheus_e2e).


def test_promtool_check_rules(promtool: str) -> None:
    output = run(promtool, "check", "rules", str(RULES))
    assert "SUCCESS" in output


def test_promtool_unit_tests_of_the_alerts(promtool: str) -> None:
    run(promtool, "test", "rules", str(RULE_TESTS))


def test_alerts_cover_the_issue_and_use_catalog_metrics() -> None:
    text = RULES.read_text()
    alerts = re.findall(r"^\s*- alert: (\w+)$", text, re.MULTILINE)
    for needed in (
        "LettaActorsRestartStorm",
        "LettaActorsMailboxSaturated",
        "LettaActorsMailboxWaitHigh",  # queueing delay a short mailbox hides
        "LettaActorsDeadLettersRising",
        "LettaActorsLettaErrors",
    ):
        assert needed in alerts
    used = {re.sub(r"_(bucket|count|sum)$", "", n) for n in re.findall(r"letta_actors_\w+", text)}
    assert used <= NAMES, used - NAMES


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())]


def test_dashboard_covers_the_issue_and_uses_catalog_metrics() -> None:
    queries = dashboard_queries()
    joined = "\n".join(queries)
    for needed in (
        "letta_actors_messages_processed_total",  # throughput
        "histogram_quantile(0.99, sum by (le) (rate(letta_actors_message_handling_seconds",
        "letta_actors_mailbox_depth",  # saturation
        # queueing delay per actor, as LettaActorsMailboxWaitHigh sees it
        "histogram_quantile(0.9, sum by (actor, group, le) (rate(letta_actors_mailbox_wait_seconds",
        "letta_actors_restarts_total",
        "letta_actors_dead_letters_total",
        "letta_actors_letta_tokens_total",
    ):
        assert needed in joined
    for query in queries:
        for name in re.findall(r"letta_actors_\w+", query):
            assert re.sub(r"_(bucket|count|sum)$", "", name) in NAMES, name


def test_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    """Each panel query, with Grafana's variables filled in, as a recording rule."""
    rules = []
    for i, query in enumerate(dashboard_queries()):
        expr = (
            query.replace("$__rate_interval", "1m")
            .replace("$__range", "1h")
            .replace("$job", ".*")
            .replace("$instance", ".*")
        )
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard-rules.yml"  # JSON is YAML
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    output = run(promtool, "check", "rules", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in output


def test_missing_tools_fail_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from .helpers import INSTALL, require_tool

    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("PROMTOOL", raising=False)
    with pytest.raises(pytest.fail.Exception, match=INSTALL.replace("&&", "&&")):
        require_tool("promtool")
