"""docs/cluster.md's "Three nodes on one machine", run as written: the page's team file and
agents, its ``nats-server`` command and three ``letta-actors run`` processes, then its
``send`` and ``status`` commands through node n1. Ports are the only change: NATS on a port it
picks (``-p -1``), the APIs on free ports (``--port 0``), each daemon announcing its URL in a
ready file."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from letta_actors.cluster import place

from ..daemon.helpers import wait_for
from ..docs_blocks import ROOT, Block, parse
from .helpers import DEADLINE

DOC = ROOT / "docs" / "cluster.md"
SECTION = "## Three nodes on one machine"
_LISTENING = re.compile(r"Listening for client connections on [^\s]*:(\d+)")


def section_blocks(title: str) -> list[Block]:
    """The code blocks under the heading ``title`` (up to the next ``## `` heading)."""
    lines = DOC.read_text().splitlines()
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [b for b in parse(DOC) if start < b.line <= end + 1]


def named_block(lang: str, first_line: str) -> str:
    """The block of ``lang`` whose first line starts with ``first_line`` (a file's name)."""
    found = [b.code for b in parse(DOC) if b.lang == lang and b.code.startswith(first_line)]
    assert len(found) == 1, f"docs/cluster.md: one {lang} block starting {first_line!r}"
    return found[0]


def commands(block: Block) -> list[list[str]]:
    """The block's commands, split like a shell (comments dropped, one per line)."""
    return [shlex.split(line, comments=True) for line in block.code.splitlines() if line.strip()]


def replace_option(argv: list[str], option: str, value: str) -> list[str]:
    index = argv.index(option)
    return [*argv[: index + 1], value, *argv[index + 2 :]]


@dataclass
class Cluster:
    """What the test started (stopped at the end, whatever happened)."""

    folder: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, argv: list[str], name: str) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.out").open("wb") as out:
            process = subprocess.Popen(
                argv, cwd=self.folder, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def output(self, name: str) -> str:
        return (self.folder / f"{name}.out").read_text(errors="replace")

    def alive(self, process: subprocess.Popen[bytes], name: str) -> bool:
        """True while ``process`` runs; :class:`AssertionError` with its output once not."""
        if process.poll() is not None:
            raise AssertionError(f"{name} exited {process.returncode}:\n{self.output(name)}")
        return True

    def stop(self) -> None:
        for process in reversed(self.processes):  # the daemons first, NATS last
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    bin_dir = str(Path(sys.executable).parent)  # nats-server and letta-actors, as installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("LETTA_ACTORS_")}
    started = Cluster(tmp_path, {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"})
    try:
        yield started
    finally:
        started.stop()


def test_three_nodes_on_one_machine_as_written(cluster: Cluster) -> None:
    folder = cluster.folder
    start_block, use_block = (b for b in section_blocks(SECTION) if b.lang == "sh")
    nats, *nodes = commands(start_block)
    assert nats[0] == "nats-server" and [n[:2] for n in nodes] == [["letta-actors", "run"]] * 3

    # NATS as written, on a port it picks.
    server = cluster.start(replace_option(nats, "-p", "-1"), "nats")

    def listening() -> re.Match[str] | None:
        cluster.alive(server, "nats")
        return _LISTENING.search(cluster.output("nats"))

    port = wait_for(listening, timeout=DEADLINE, what="nats-server listening").group(1)
    team = named_block("toml", "# team.toml")
    assert "nats://127.0.0.1:4222" in team
    (folder / "team.toml").write_text(team.replace(":4222", f":{port}"))
    (folder / "agents.py").write_text(named_block("python", "# agents.py"))

    # Three nodes as written, each on a free API port, announcing its URL.
    daemons: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for argv in nodes:
        name = argv[argv.index("--node") + 1]
        ready = folder / f"{name}.ready"
        argv = [*replace_option(argv, "--port", "0"), "--ready-file", str(ready)]
        daemons[name] = (cluster.start(argv, name), ready)
    urls: dict[str, str] = {}
    pids: dict[str, int] = {}
    for name, (process, ready) in daemons.items():
        wait_for(
            lambda: cluster.alive(process, name) and ready.exists(),  # noqa: B023
            timeout=DEADLINE,
            what=f"{name}'s ready file",
        )
        announced = json.loads(ready.read_text())
        urls[name], pids[name] = announced["url"], announced["pid"]
    assert list(urls) == ["n1", "n2", "n3"]

    # Every node ready, and the agents where placement puts them over the three nodes.
    agents = ["greeter-1", "greeter-2", "greeter-3", "tally"]
    expected = place(agents, list(urls))

    def settled() -> dict[str, str] | None:
        for name, url in urls.items():
            cluster.alive(daemons[name][0], name)
            if httpx.get(f"{url}/readyz", timeout=10).status_code != 200:
                return None
        view = httpx.get(f"{urls['n1']}/v1/cluster", timeout=10).json()
        return view["owners"] if view["owners"] == expected and len(view["nodes"]) == 3 else None

    owners = wait_for(
        settled, timeout=DEADLINE, interval=0.2, what="the agents spread over n1, n2, n3"
    )

    # The page's commands, through node n1.
    env = {**cluster.env}
    results: list[str] = []
    for argv in commands(use_block):
        if argv[0] == "export":
            variable, _, _ = argv[1].partition("=")
            assert variable == "LETTA_ACTORS_URL"
            env[variable] = urls["n1"]
            continue
        done = subprocess.run(
            argv, cwd=folder, env=env, capture_output=True, text=True, timeout=DEADLINE
        )
        assert done.returncode == 0, done.stdout + done.stderr
        results.append(done.stdout)
    greeting, queued, status = results

    # greeter-3 is owned by another node than n1, and that node's process answered.
    assert owners["greeter-3"] != "n1"
    assert greeting.strip() == (
        f"hello world, from greeter-3 in process {pids[owners['greeter-3']]}"
    )
    # The durable tell to tally (on another node too) was handled there.
    assert owners["tally"] != "n1" and queued.startswith("queued as ")
    count = ["letta-actors", "send", "tally", "count"]
    wait_for(
        lambda: subprocess.run(count, env=env, capture_output=True, text=True).stdout == "1\n",
        timeout=DEADLINE,
        interval=0.5,
        what="tally counting the told message",
    )
    # status: ready, the nodes, and which node owns which agent.
    lines = status.splitlines()
    assert lines[0] == f"{urls['n1']}: ready"
    assert "node n1; live nodes: n1, n2, n3" in lines
    for agent, owner in owners.items():
        assert f"{agent:<24}{owner}" in lines
