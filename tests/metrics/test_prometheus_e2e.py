"""End to end: a real Prometheus server scrapes a running system's standalone endpoint.

Prometheus listens on a free loopback port with its own temporary data directory and scrapes
every second; the test sends known traffic, then polls Prometheus' HTTP API (bounded) until the
samples it reports match that traffic. Needs ``prometheus`` (Debian package ``prometheus``);
FAILS without it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from letta_actors import ActorSystem
from letta_actors.metrics import SystemMetrics

from .helpers import Worker, free_port, wait_for, wait_restarted

pytestmark = [pytest.mark.anyio, pytest.mark.prometheus]

STARTUP_TIMEOUT = 60.0
SAMPLE_TIMEOUT = 60.0


@asynccontextmanager
async def prometheus_server(binary: str, target: str, workdir: Path) -> AsyncIterator[str]:
    """Run Prometheus scraping ``target`` (host:port) every second; yields its base URL."""
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        json.dumps({  # JSON is YAML
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "scrape_configs": [{
                "job_name": "letta-actors",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [target]}],
            }],
        })
    )  # fmt: skip
    log_path = workdir / "prometheus.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = await anyio.open_process(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=info",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(timeout=5) as client:

                async def ready() -> bool:
                    if process.returncode is not None:
                        raise AssertionError(
                            f"prometheus exited ({process.returncode}):\n{log_path.read_text()}"
                        )
                    try:
                        return (await client.get(f"{url}/-/ready")).status_code == 200
                    except httpx.TransportError:
                        return False

                await wait_for(ready, timeout=STARTUP_TIMEOUT, what="prometheus ready")
            yield url
        finally:
            process.terminate()
            with anyio.move_on_after(10) as scope:
                await process.wait()
            if scope.cancelled_caught:
                process.kill()
                await process.wait()
            await process.aclose()


async def query(client: httpx.AsyncClient, url: str, promql: str) -> list[dict[str, Any]]:
    response = await client.get(f"{url}/api/v1/query", params={"query": promql})
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def test_prometheus_scrapes_the_traffic_we_sent(prometheus_bin: str, tmp_path: Path) -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        async with metrics.serving() as endpoint:  # 127.0.0.1, a free port
            target = f"{endpoint.host}:{endpoint.port}"
            async with prometheus_server(prometheus_bin, target, tmp_path) as prom:
                a = await system.spawn(Worker, name="a")
                for i in range(5):
                    await a.tell(i)
                await a.ask("sync", timeout=5)  # 6 handled
                await a.tell("boom")  # 1 failed, 1 restart, 1 handler_failed dead letter
                await wait_restarted(system, "a", 1)
                await a.ask("after", timeout=5)  # 7 handled
                await system.bus.tell("nobody", "hello")  # 1 unknown_recipient dead letter

                expected = {
                    'letta_actors_messages_processed_total{actor="a",outcome="ok"}': 7.0,
                    'letta_actors_messages_processed_total{actor="a",outcome="failed"}': 1.0,
                    'letta_actors_messages_received_total{actor="a"}': 8.0,
                    'letta_actors_restarts_total{actor="a"}': 1.0,
                    'letta_actors_dead_letters_total{reason="unknown_recipient"}': 1.0,
                    'letta_actors_dead_letters_total{reason="handler_failed"}': 1.0,
                    'letta_actors_message_handling_seconds_count{actor="a"}': 8.0,
                    'letta_actors_actors{state="running"}': 2.0,
                }
                seen: dict[str, float | None] = {}
                async with httpx.AsyncClient(timeout=5) as client:

                    async def scraped() -> bool:
                        for promql, want in expected.items():
                            result = await query(client, prom, promql)
                            seen[promql] = float(result[0]["value"][1]) if result else None
                            if seen[promql] != want:
                                return False
                        return True

                    try:
                        await wait_for(scraped, timeout=SAMPLE_TIMEOUT, what="scraped samples")
                    except AssertionError:
                        log = (tmp_path / "prometheus.log").read_text()[-3000:]
                        raise AssertionError(f"expected {expected}\nseen {seen}\n{log}") from None

                    # the scrape itself was healthy, and labels are what we exported
                    up = await query(client, prom, 'up{job="letta-actors"}')
                    assert float(up[0]["value"][1]) == 1.0
                    result = await query(client, prom, "letta_actors_restarts_total")
                    labels = {tuple(sorted(r["metric"].items())) for r in result}
                    assert labels == {
                        (("__name__", "letta_actors_restarts_total"), ("actor", name),
                         ("instance", target), ("job", "letta-actors"))
                        for name in ("root", "a")
                    }  # fmt: skip
