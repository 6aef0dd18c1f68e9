"""``python -m letta_actors.demo``: the main job — the content team, run through the daemon.

1. A Letta server: ``LETTA_BASE_URL`` (with ``LETTA_MODEL``, ``LETTA_EMBEDDING``,
   ``LETTA_API_KEY``) if set; otherwise the local stack (scripted LLM + a real Letta server,
   installed on first use), with the LLM scripted for the content team.
2. A team file for the content team, and the daemon (``letta-actors run``) as a subprocess.
3. The ``article`` workflow through the daemon's HTTP API, with live progress: the chief
   delegates to its specialists; the run's record and its Mermaid sequence diagram.
4. A summary of what Prometheus would scrape from the daemon's ``/metrics``.
5. SIGTERM: the daemon drains and exits; the agents the demo created are deleted.

Exit status: 0 when the run completed and the daemon stopped cleanly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx
from letta_client import Letta
from prometheus_client.parser import text_string_to_metric_families

from ..daemon import cli
from ..localstack import LettaEnvironment, letta_environment
from .content_team import scripted_rules, team_toml

TOPIC = "sea otters"


def _start_daemon(config: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    ready = workdir / "ready.json"
    log = workdir / "daemon.log"
    command = [sys.executable, "-m", "letta_actors.daemon", "run", str(config),
               "--port", "0", "--ready-file", str(ready)]  # fmt: skip
    with log.open("wb") as out:
        daemon = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=out)
    deadline = time.monotonic() + 300
    while not ready.exists():
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.kill()
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"the daemon did not start:\n{tail}")
        time.sleep(0.2)
    url = str(json.loads(ready.read_text())["url"])
    return daemon, url, log


def _metrics_summary(url: str) -> None:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    per_actor: dict[str, dict[str, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            actor = sample.labels.get("actor")
            if actor is None:
                continue
            if sample.name == "letta_actors_messages_processed_total":
                key = f"processed_{sample.labels.get('outcome', '')}"
            elif sample.name == "letta_actors_letta_tokens_total":
                key = f"{sample.labels.get('kind', '')}_tokens"
            elif sample.name == "letta_actors_letta_requests_total":
                key = "letta_requests"
            else:
                continue
            per_actor[actor][key] = per_actor[actor].get(key, 0) + sample.value
    print(f"\nmetrics ({url}/metrics, as Prometheus scrapes them):")
    print(f"  {'actor':<12} {'handled ok':>10} {'failed':>7} {'letta requests':>15} {'tokens':>8}")
    for actor, values in sorted(per_actor.items()):
        tokens = values.get("prompt_tokens", 0) + values.get("completion_tokens", 0)
        print(
            f"  {actor:<12} {values.get('processed_ok', 0):>10.0f} "
            f"{values.get('processed_error', 0):>7.0f} {values.get('letta_requests', 0):>15.0f} "
            f"{tokens:>8.0f}"
        )


def _stop_daemon(daemon: subprocess.Popen[bytes]) -> int:
    daemon.send_signal(signal.SIGTERM)
    try:
        out, _ = daemon.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        daemon.kill()
        out, _ = daemon.communicate()
    report = next(
        (line for line in out.decode(errors="replace").splitlines() if "shutdown_report" in line),
        None,
    )
    print(f"\ndaemon stopped (exit {daemon.returncode}); its report: {report or '-'}")
    return daemon.returncode


def _delete_agents(env: LettaEnvironment, tag: str) -> None:
    client = Letta(base_url=env.base_url, api_key=env.api_key, max_retries=0)
    for agent in client.agents.list(tags=[tag]):
        client.agents.delete(agent.id)


def main(topic: str = TOPIC) -> int:
    token = uuid.uuid4().hex[:8]
    with letta_environment() as env, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        where = "the local stack (scripted LLM)" if env.scripted else env.base_url
        print(f"letta-actors demo: a content team on {where}\n")
        if env.stack is not None:
            env.stack.admin.set_rules(scripted_rules(token))
        config = workdir / "team.toml"
        config.write_text(team_toml(team=f"demo-{token}", token=token, base_url=env.base_url,
                                    model=env.model, embedding=env.embedding))  # fmt: skip
        daemon, url, _ = _start_daemon(config, workdir)
        try:
            print(f"daemon: {url} (OpenAPI at {url}/docs)\n")
            status = cli.main(["run-workflow", "article", topic, "--mermaid", "--url", url])
            _metrics_summary(url)
        finally:
            exit_code = _stop_daemon(daemon)
            _delete_agents(env, token)
    return 0 if status == 0 and exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(" ".join(sys.argv[1:]) or TOPIC))
