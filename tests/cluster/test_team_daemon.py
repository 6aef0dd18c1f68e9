"""``letta-actors run`` in cluster mode when it cannot start: NATS unreachable (exit 1) and a
node name already live (exit 2), each in one line naming the file and the cause."""

from __future__ import annotations

from pathlib import Path

from letta_actors.cluster import LocalNatsServer

from ..daemon.conftest import StartDaemon, cli, start_daemon
from ..daemon.helpers import REPO

__all__ = ["start_daemon"]  # the fixture, used by name

TEAM = f"""
[team]
python_path = ["{REPO}"]

[agents.echo]
kind = "python"
factory = "tests.daemon.actors:Echo"

[cluster]
nats_url = "{{url}}"
connect_timeout = 2.0

[api]
port = 0
"""


def test_nats_unreachable_at_start_exits_1_naming_the_url(tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text(TEAM.format(url="nats://127.0.0.1:1"))
    result = cli("run", str(path), "--node", "n1")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[-1].startswith(
        f"{path}: [cluster] NATS at nats://127.0.0.1:1 is unreachable (no connection within 2 s)"
    ), result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_node_with_a_live_name_exits_2(
    nats_server: LocalNatsServer, start_daemon: StartDaemon, tmp_path: Path
) -> None:
    text = TEAM.format(url=nats_server.url)
    first = start_daemon(text, "--node", "n1")
    path = tmp_path / "same.toml"
    path.write_text(text)
    result = cli("run", str(path), "--node", "n1")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"{path}: [cluster] node name 'n1' is already in use by a live node: give each node a "
        "unique name, or wait for the old one's lease to expire"
    )
    with first.client() as http:  # the first one is not disturbed
        assert http.post("/v1/agents/echo/ask", json={"message": "hi"}).json()["reply"] == "hi"
