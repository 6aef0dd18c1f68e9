"""``python -m letta_actors.demo [TOPIC] [--keep] [--port P]``: the main job — the content
team, run through the daemon.

1. A Letta server: ``LETTA_BASE_URL`` (with ``LETTA_MODEL``, ``LETTA_EMBEDDING``,
   ``LETTA_API_KEY``) if set; otherwise the local stack (scripted LLM + a real Letta server,
   installed on first use), with the LLM scripted for the content team.
2. A team file for the content team, and the daemon (``letta-actors run``) as a subprocess,
   with a bearer token (``$LETTA_ACTORS_API_TOKEN``, or a random one).
3. The ``article`` workflow through the daemon's HTTP API, with live progress: the chief
   delegates to its specialists; the run's record and its Mermaid sequence diagram.
4. A summary of what Prometheus would scrape from the daemon's ``/metrics``, and the address
   of the daemon's web console (and its token).
5. With ``--keep``, the daemon (and the local stack) stay up until Ctrl-C or SIGTERM, to look
   at the run in the console. Then SIGTERM: the daemon drains and exits; the agents the demo
   created are deleted.

Exit status: 0 when the run completed and the daemon stopped cleanly.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import tempfile
import threading
import uuid
from collections import defaultdict
from pathlib import Path

import httpx
from letta_client import Letta
from prometheus_client.parser import text_string_to_metric_families

from ..daemon import cli
from ..daemon.client import TOKEN_VAR
from ..localstack import LettaEnvironment, letta_environment
from .content_team import scripted_rules, team_toml
from .daemon_process import start_daemon

TOPIC = "sea otters"


def _metrics_summary(url: str, token: str) -> None:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    per_actor: dict[str, dict[str, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(response.text):
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


def _wait_for_a_stop_signal() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM."""
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _delete_agents(env: LettaEnvironment, tag: str) -> None:
    client = Letta(base_url=env.base_url, api_key=env.api_key, max_retries=0)
    for agent in client.agents.list(tags=[tag]):
        client.agents.delete(agent.id)


def main(topic: str = TOPIC, *, keep: bool = False, port: int = 0) -> int:
    tag = uuid.uuid4().hex[:8]
    # The daemon requires this token; the CLI client below reads it from the same variable.
    given = os.environ.get(TOKEN_VAR) or None
    api_token = os.environ[TOKEN_VAR] = given or secrets.token_urlsafe(16)
    login = f"the token in ${TOKEN_VAR}" if given else f"the token {api_token}"
    with letta_environment() as env, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        where = "the local stack (scripted LLM)" if env.scripted else env.base_url
        print(f"letta-actors demo: a content team on {where}\n")
        if env.stack is not None:
            env.stack.admin.set_rules(scripted_rules(tag))
        config = workdir / "team.toml"
        config.write_text(team_toml(team=f"demo-{tag}", token=tag, base_url=env.base_url,
                                    model=env.model, embedding=env.embedding))  # fmt: skip
        try:
            daemon = start_daemon(config, workdir, port=port)
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None
        url = daemon.url
        try:
            print(f"daemon: {url} (OpenAPI at {url}/docs)\n")
            status = cli.main(["run-workflow", "article", topic, "--mermaid", "--url", url])
            _metrics_summary(url, api_token)
            print(f"\nconsole: {url}/ui/ (log in with {login})")
            if keep:
                print("kept running: look at the run in the console; Ctrl-C stops", flush=True)
                _wait_for_a_stop_signal()
        finally:
            exit_code, report = daemon.stop()
            print(f"\ndaemon stopped (exit {exit_code}); its report: {report or '-'}")
            _delete_agents(env, tag)
    return 0 if status == 0 and exit_code == 0 else 1


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m letta_actors.demo",
        description="Run the content team through the daemon and show the run.",
    )
    parser.add_argument("topic", nargs="*", help=f"what the article is about ({TOPIC!r})")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the daemon and its web console running after the run, until Ctrl-C",
    )
    parser.add_argument("--port", type=int, default=0, help="the daemon's port (default: any)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _arguments()
    sys.exit(main(" ".join(args.topic) or TOPIC, keep=args.keep, port=args.port))
