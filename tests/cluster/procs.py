"""A cluster of daemon processes on one machine: issue 13's multi-process tests and the
failover benchmark (``benchmarks/cluster_failover.py``) drive it.

- :func:`team_text` writes the team file every node runs: a ``[cluster]`` section pointing at
  a :class:`~letta_actors.cluster.LocalNatsServer`, short leases (:class:`TeamSpec`), and
  ``actors`` durable Python agents ``a00``, ``a01``... (:class:`.recording.Recording`), which
  write one line per handled message to the cluster's record directory.
- :class:`Node` is one ``letta-actors run TEAM --node NAME --port 0`` process: started, ready
  (its ready file, then ``/readyz`` answering 200), signalled (SIGKILL, SIGSTOP, SIGCONT,
  SIGTERM), waited for, started again (a new process, a new port).
- :class:`Cluster` holds the nodes and one HTTP client per live node; :func:`open_cluster`
  starts one and kills whatever is still running at the end, whatever happened.
- :class:`Sender` tells through the nodes' HTTP API with bounded concurrency. Each message has
  its own ``message_id``; when a node fails to answer (killed, stopping, paused past the
  request timeout, NATS away) the SAME id is resent to another node: JetStream's duplicate
  window drops the copy if the first attempt was stored after all.
- :class:`Records` reads the record files back: what was handled, what is missing, the
  duplicates, the overlapping handling intervals of one actor on two nodes.

Nothing here sleeps to wait for another process: the waits poll with
:func:`tests.helpers.wait_until`, bounded by :data:`DEADLINE` (a hang becomes a failure).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx

from letta_actors.cluster import (
    ClusterConnection,
    ClusterSettings,
    LeaseSettings,
    LocalNatsServer,
    Membership,
    place,
)

from ..helpers import wait_until
from .recording import NODE_VAR

REPO = Path(__file__).resolve().parents[2]
FACTORY = "tests.cluster.recording:Recording"
#: Upper bound for anything the harness waits for (starting a node on a loaded machine, a
#: failover, a backlog to drain): reaching it is a failure, never a measurement.
DEADLINE = 90.0

Line = dict[str, Any]


@dataclass(frozen=True)
class TeamSpec:
    """What the team file declares: ``actors`` durable recording agents, lease timings (a
    node SIGKILLed loses its actors after about ``ttl``), each agent's mailbox ``capacity``
    (the most messages of one agent a node holds at once) and drain budget on a graceful stop
    (``shutdown`` seconds), and the recording actors' ``work`` and ``hold``."""

    actors: int = 30
    ttl: float = 3.0
    renew_interval: float = 0.5
    capacity: int = 32
    shutdown: float = 2.0
    work: float = 0.0
    hold: bool = False

    @property
    def names(self) -> list[str]:
        """The agents' names: ``a00``, ``a01``, ..."""
        return [f"a{i:02d}" for i in range(self.actors)]


def team_text(spec: TeamSpec, nats_url: str, record_dir: Path) -> str:
    """The team file of every node (no ``node`` in ``[cluster]``: ``--node`` names it)."""
    args = json.dumps({"record_dir": str(record_dir), "work": spec.work, "hold": spec.hold})
    inline = args.replace('": ', '" = ')  # a JSON object of these values is a TOML table
    agents = "".join(
        f"""
[agents.{name}]
kind = "python"
factory = "{FACTORY}"
args = {{ {inline[1:-1]} }}
durable = true
mailbox = {{ capacity = {spec.capacity} }}
shutdown = {spec.shutdown}
"""
        for name in spec.names
    )
    return f"""
[team]
name = "procs"
python_path = ["{REPO}"]
shutdown_timeout = {spec.shutdown + 5}

[cluster]
nats_url = "{nats_url}"
reconnect_wait = 0.1
connect_timeout = 10.0

[cluster.leases]
ttl = {spec.ttl}
renew_interval = {spec.renew_interval}

[api]
port = 0
max_ask_timeout = {DEADLINE}
{agents}"""


class Node:
    """One daemon process of the cluster; :meth:`start` again after it exited makes a new
    incarnation (a new process with its own log files, on a new port)."""

    def __init__(self, name: str, team: Path, workdir: Path) -> None:
        self.name = name
        self.team = team
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.incarnation = 0
        #: Whether senders may use this node: set once it is ready, cleared by the test before
        #: it kills, stops or pauses the node.
        self.accepting = False
        self.pids: list[int] = []

    @property
    def pid(self) -> int:
        """The current process's id."""
        if self.process is None:
            raise RuntimeError(f"node {self.name} was never started")
        return self.process.pid

    @property
    def alive(self) -> bool:
        """Whether the current process has not exited (a paused process is alive)."""
        return self.process is not None and self.process.poll() is None

    def state(self) -> str:
        """The process's state letter from ``/proc`` (``T``: stopped by a signal)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        return stat[stat.rindex(")") + 2]

    def _file(self, suffix: str) -> Path:
        return self.workdir / f"{self.name}.{self.incarnation}.{suffix}"

    def start(self) -> None:
        """Start a process (returns at once; :meth:`ready` waits for it to serve)."""
        if self.alive:
            raise RuntimeError(f"node {self.name} is already running")
        self.incarnation += 1
        self.url, self.accepting = "", False
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable, "-m", "letta_actors.daemon", "run", str(self.team),
            "--node", self.name, "--port", "0", "--ready-file", str(self._file("ready.json")),
        ]  # fmt: skip
        with self._file("out").open("wb") as out, self._file("err").open("wb") as err:
            self.process = subprocess.Popen(
                argv, cwd=REPO, env={**os.environ, NODE_VAR: self.name}, stdout=out, stderr=err
            )
        self.pids.append(self.process.pid)

    async def ready(self, timeout: float = DEADLINE) -> None:
        """Wait until the process wrote its ready file and ``/readyz`` answers 200; then it
        is :attr:`accepting`. Fails with its log if it exits first."""
        ready = self._file("ready.json")

        def announced() -> bool:
            if not self.alive:
                raise AssertionError(f"node {self.name} exited:\n{self.log_tail()}")
            return ready.exists()

        await wait_until(announced, timeout=timeout, what=f"node {self.name}'s ready file")
        self.url = json.loads(ready.read_text())["url"]
        async with httpx.AsyncClient(base_url=self.url, timeout=5.0) as http:

            async def serving() -> bool:
                if not self.alive:
                    raise AssertionError(f"node {self.name} exited:\n{self.log_tail()}")
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(serving, timeout=timeout, what=f"node {self.name} ready")
        self.accepting = True

    def signal(self, signum: signal.Signals) -> None:
        """Send ``signum``; any but SIGCONT first stops senders from choosing this node."""
        if signum != signal.SIGCONT:
            self.accepting = False
        os.kill(self.pid, signum)

    async def exited(self, timeout: float = DEADLINE) -> int:
        """Wait for the process to exit; its return code (``-9`` after SIGKILL)."""
        process = self.process
        assert process is not None
        await wait_until(
            lambda: process.poll() is not None, timeout=timeout, what=f"node {self.name} to exit"
        )
        return process.returncode

    async def stop(self, timeout: float = DEADLINE) -> int:
        """SIGTERM (a graceful stop: drain, release the leases, leave) and wait for the exit."""
        self.signal(signal.SIGTERM)
        return await self.exited(timeout)

    async def kill(self) -> int:
        """SIGKILL and wait for the exit."""
        self.signal(signal.SIGKILL)
        return await self.exited()

    def reap(self) -> None:
        """Kill the process if it still runs (the end of a test, whatever happened)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the current process's stderr."""
        err = self._file("err")
        return (
            "\n".join(err.read_text(errors="replace").splitlines()[-lines:]) if err.exists() else ""
        )


class Cluster:
    """Nodes ``names`` running one team file (see :func:`open_cluster`)."""

    def __init__(
        self, root: Path, nats: LocalNatsServer, spec: TeamSpec, names: Sequence[str]
    ) -> None:
        self.root = root
        self.nats = nats
        self.spec = spec
        self.record_dir = root / "records"
        self.record_dir.mkdir(parents=True, exist_ok=True)
        self.team = root / "team.toml"
        self.write_team(spec)
        self.nodes = {n: Node(n, self.team, root / "nodes") for n in names}
        self._clients: dict[str, httpx.AsyncClient] = {}

    def write_team(self, spec: TeamSpec) -> None:
        """(Re)write the team file: nodes started from now on read ``spec``."""
        self.spec = spec
        self.team.write_text(team_text(spec, self.nats.url, self.record_dir))

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    async def start(self, *names: str) -> None:
        """Start these nodes (default all) at once and wait until each is ready. A node that
        ran before is started once the cluster has forgotten it: a name is refused while a
        live node holds it, and for up to one lease TTL after its process was killed."""
        chosen = [self.nodes[n] for n in names or self.nodes]
        running = [n.name for n in chosen if n.alive]
        if running:
            raise RuntimeError(f"already running: {running}")
        if any(node.incarnation for node in chosen):
            await wait_until(
                lambda: self._forgotten(chosen),
                timeout=DEADLINE,
                what=f"the cluster to forget {[n.name for n in chosen]}",
            )
        for node in chosen:
            node.start()
        for node in chosen:
            await node.ready()

    async def _forgotten(self, nodes: list[Node]) -> bool:
        return not {n.name for n in nodes} & set(await self.registered())

    async def registered(self) -> list[str]:
        """The node names the cluster's membership bucket holds now, read from NATS: what
        the cluster counts as live, whether or not their processes are."""
        leases = LeaseSettings(ttl=self.spec.ttl, renew_interval=self.spec.renew_interval)
        observer = ClusterSettings(nats_url=self.nats.url, node="observer", leases=leases)
        async with await ClusterConnection.open(observer) as conn:
            membership = Membership(conn, observer)
            await membership.leases.open()
            return await membership.nodes()

    def serving(self) -> list[Node]:
        """The nodes senders may use now. A node that exited while it was :attr:`accepting`
        (the test did not stop it) fails the test, with its log."""
        for node in self.nodes.values():
            if node.accepting and not node.alive:
                assert node.process is not None
                raise AssertionError(
                    f"node {node.name} exited ({node.process.returncode}):\n{node.log_tail()}"
                )
        return [n for n in self.nodes.values() if n.accepting]

    def client(self, node: Node) -> httpx.AsyncClient:
        """An HTTP client of ``node``'s current process (kept per URL)."""
        if not node.url:
            raise RuntimeError(f"node {node.name} is not serving")
        http = self._clients.get(node.url)
        if http is None:
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            http = httpx.AsyncClient(base_url=node.url, timeout=10.0, limits=limits)
            self._clients[node.url] = http
        return http

    async def status(self, node: Node | None = None) -> dict[str, Any]:
        """``GET /v1/cluster`` of ``node`` (default the first serving one): this node, the
        live nodes, and each actor's owner."""
        chosen = node or self.serving()[0]
        answer = await self.client(chosen).get("/v1/cluster")
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    async def owners(self, node: Node | None = None) -> dict[str, str | None]:
        """Every actor -> the node holding its lease (``None``: nobody now)."""
        return dict((await self.status(node))["owners"])

    async def settled(self, timeout: float = DEADLINE) -> dict[str, str]:
        """Wait until the serving nodes see exactly each other and every actor is held by the
        node placement gives it; the owners."""
        live = sorted(n.name for n in self.serving())
        expected = place(self.spec.names, live)

        async def done() -> bool:
            for node in self.serving():
                try:
                    status = await self.status(node)
                except httpx.HTTPError:
                    return False
                if sorted(status["nodes"]) != live or status["owners"] != expected:
                    return False
            return True

        await wait_until(done, timeout=timeout, what=f"placement over {live} to settle")
        return expected

    async def ask(self, actor: str, message: Any, node: Node, timeout: float = DEADLINE) -> Any:
        """Ask ``actor`` through ``node``'s API; the reply."""
        answer = await self.client(node).post(
            f"/v1/agents/{actor}/ask",
            json={"message": message, "timeout": timeout},
            timeout=timeout + 5,
        )
        answer.raise_for_status()
        return answer.json()["reply"]

    def records(self) -> Records:
        """What the recording actors wrote so far."""
        return Records.read(self.record_dir)

    async def handled(
        self, keys: Iterable[str] | Mapping[str, str], timeout: float = DEADLINE
    ) -> Records:
        """Wait until every key was handled (a complete line), then the records. ``keys`` may
        map each key to the node that accepted it (:attr:`Sender.accepted_by`): a failure
        names them."""
        wanted = set(keys)
        where = keys if isinstance(keys, Mapping) else {}

        def all_handled() -> Records | None:
            records = self.records()
            return records if not records.missing(wanted) else None

        try:
            found: Records = await wait_until(all_handled, timeout=timeout, what="every key")
        except AssertionError:
            missing = sorted(self.records().missing(wanted))[:10]
            named = [f"{key} (accepted by {where.get(key, '?')})" for key in missing]
            raise AssertionError(f"keys never handled: {', '.join(named)}...") from None
        return found

    async def aclose(self) -> None:
        """Kill every process still running and close the clients."""
        for node in self.nodes.values():
            node.reap()
        for http in self._clients.values():
            await http.aclose()
        self._clients.clear()


C = TypeVar("C", bound=Cluster)


@asynccontextmanager
async def running(cluster: C) -> AsyncIterator[C]:
    """``cluster`` started, once its placement has settled; every process is killed at the end."""
    try:
        await cluster.start()
        await cluster.settled()
        yield cluster
    finally:
        with anyio.CancelScope(shield=True):
            await cluster.aclose()


def open_cluster(
    root: Path, nats: LocalNatsServer, spec: TeamSpec, names: Sequence[str] = ("n1", "n2", "n3")
) -> AbstractAsyncContextManager[Cluster]:
    """A started cluster of ``spec`` (see :func:`running`)."""
    return running(Cluster(root, nats, spec, names))


class SendFailed(AssertionError):
    """A message could not be told through any node within the deadline."""


@dataclass
class Sender:
    """Tells ``{"k": key}`` messages through the serving nodes' APIs, spreading them round
    robin, at most ``concurrency`` requests at once. A transport error, a 5xx answer or no
    answer within ``request_timeout`` resends the same ``message_id`` to the next node (after
    ``pause`` seconds, so that a cluster without NATS is not hammered), until ``give_up``
    seconds have passed (then :class:`SendFailed`); any other answer than 202 fails at once."""

    cluster: Cluster
    concurrency: int = 32
    request_timeout: float = 5.0
    pause: float = 0.05
    give_up: float = DEADLINE
    #: The keys accepted (202), in the order of the answers, and the node that accepted each.
    accepted_by: dict[str, str] = field(default_factory=dict)
    #: Requests that failed and were resent (same id) to another node.
    resent: int = 0
    errors: list[str] = field(default_factory=list)
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _marks: dict[int, anyio.Event] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """The keys accepted."""
        return list(self.accepted_by)

    @property
    def accepted(self) -> int:
        """How many tells were accepted."""
        return len(self.accepted_by)

    def reached(self, count: int) -> anyio.Event:
        """An event set once ``count`` tells were accepted."""
        event = self._marks.setdefault(count, anyio.Event())
        if self.accepted >= count:
            event.set()
        return event

    async def tell(self, actor: str, key: str, **fields: Any) -> None:
        """Tell ``{"k": key, **fields}``, resending on failure (see the class docstring)."""
        body = {"message": {"k": key, **fields}, "message_id": f"procs-{key}"}
        with anyio.fail_after(self.give_up):
            while True:
                serving = self.cluster.serving()
                if not serving:  # every node down for a moment (a rolling restart's gap)
                    await wait_until(self.cluster.serving, timeout=self.give_up, what="a node")
                    continue
                node = serving[next(self._turn) % len(serving)]
                try:
                    with anyio.fail_after(self.request_timeout):
                        answer = await self.cluster.client(node).post(
                            f"/v1/agents/{actor}/tell", json=body
                        )
                except (httpx.TransportError, TimeoutError) as exc:
                    await self._failed(f"{node.name}: {type(exc).__name__} {exc}")
                    continue
                if answer.status_code >= 500:
                    await self._failed(f"{node.name}: {answer.status_code} {answer.text[:200]}")
                    continue
                if answer.status_code != 202:
                    raise SendFailed(f"tell {key} to {actor} via {node.name}: {answer.text}")
                break
        self.accepted_by[key] = node.name
        for count, event in self._marks.items():
            if self.accepted >= count:
                event.set()

    async def _failed(self, error: str) -> None:
        self.resent += 1
        if len(self.errors) < 50:
            self.errors.append(error)
        await anyio.sleep(self.pause)  # pacing the retries, not waiting for a state

    async def tell_all(self, messages: Iterable[tuple[str, str]]) -> None:
        """Tell every ``(actor, key)``, ``concurrency`` at a time (``messages`` may be an
        endless generator that stops when the test says so)."""
        queue = iter(messages)

        async def worker() -> None:
            for actor, key in queue:  # the workers share one iterator
                await self.tell(actor, key)

        async with anyio.create_task_group() as tg:
            for _ in range(self.concurrency):
                tg.start_soon(worker)


def workload(spec: TeamSpec, count: int, prefix: str = "m") -> list[tuple[str, str]]:
    """``count`` messages spread evenly over the agents: ``(actor, key)`` pairs, keys
    ``<prefix>-<n>`` unique."""
    names = spec.names
    return [(names[i % len(names)], f"{prefix}-{i}") for i in range(count)]


def until(spec: TeamSpec, stop: anyio.Event, prefix: str = "m") -> Iterator[tuple[str, str]]:
    """Messages like :func:`workload`'s, without end until ``stop`` is set."""
    names = spec.names
    for i in itertools.count():
        if stop.is_set():
            return
        yield names[i % len(names)], f"{prefix}-{i}"


@dataclass
class Records:
    """The complete lines (handled messages) and the ``held`` lines of a record directory."""

    lines: list[Line]
    held: list[Line]

    @classmethod
    def read(cls, directory: Path) -> Records:
        """Read every record file; a last line cut short (a process killed while writing
        one is not possible with one ``write``, but a reader may race a writer) is skipped."""
        lines: list[Line] = []
        held: list[Line] = []
        for path in sorted(directory.glob("*.jsonl")):
            for text in path.read_text().splitlines():
                try:
                    line = json.loads(text)
                except json.JSONDecodeError:
                    continue
                (held if line.get("held") else lines).append(line)
        return cls(lines, held)

    def by_key(self) -> dict[str, list[Line]]:
        """Key -> its complete lines, in file order."""
        found: dict[str, list[Line]] = defaultdict(list)
        for line in self.lines:
            found[line["key"]].append(line)
        return found

    def missing(self, keys: Iterable[str]) -> set[str]:
        """The keys no complete line has."""
        return set(keys) - {line["key"] for line in self.lines}

    def duplicates(self) -> dict[str, list[Line]]:
        """Keys handled more than once -> their lines."""
        return {k: v for k, v in self.by_key().items() if len(v) > 1}

    def overlaps(self, exempt: Iterable[Line] = ()) -> list[tuple[Line, Line]]:
        """Pairs of handling intervals of one actor on two different processes that overlap
        in time (``exempt`` lines are left out)."""
        skip = {id(line) for line in exempt}
        per_actor: dict[str, list[Line]] = defaultdict(list)
        for line in self.lines:
            if id(line) not in skip:
                per_actor[line["actor"]].append(line)
        found: list[tuple[Line, Line]] = []
        for intervals in per_actor.values():
            intervals.sort(key=lambda line: line["start"])
            latest: Line | None = None  # the interval ending last so far
            for line in intervals:
                if latest is None:
                    latest = line
                    continue
                if line["start"] < latest["end"] and line["pid"] != latest["pid"]:
                    found.append((latest, line))
                if line["end"] > latest["end"]:
                    latest = line
        return found
