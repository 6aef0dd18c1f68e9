"""A team in cluster mode, in process: two :class:`Team` objects (nodes n1 and n2) from one
team file over a real nats-server. Each declared agent runs on the node placement gives it,
and answers through either node; the API and readiness report the nodes and owners."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from letta_actors.cluster import LocalNatsServer, place
from letta_actors.daemon import create_app
from letta_actors.errors import SupervisionEscalated
from letta_actors.team import Team, TeamConfig, UnknownAgent, parse_config

from ..helpers import wait_until
from .helpers import DEADLINE

pytestmark = pytest.mark.anyio

AGENTS = ["a", "b", "c", "log"]


def echoes(*names: str) -> str:
    """TOML declaring a Python agent echoing its messages for each of ``names``."""
    declare = '\n[agents.{}]\nkind = "python"\nfactory = "tests.helpers:Echo"\n'
    return "".join(declare.format(name) for name in names)


TEAM = f"""
[team]
name = "cluster-team"
ask_timeout = 30
{echoes("a", "b", "c")}
[agents.log]
kind = "python"
factory = "tests.helpers:Recorder"
durable = true

[workflows.both]
kind = "fan_out"

[[workflows.both.tasks]]
id = "a"
agent = "a"

[[workflows.both.tasks]]
id = "b"
agent = "b"

[cluster]
nats_url = "{{url}}"
reconnect_wait = 0.1
connect_timeout = 10.0

[cluster.leases]
ttl = {{ttl}}
renew_interval = 0.3
"""


def config_for(server: LocalNatsServer, ttl: float = 2.0) -> TeamConfig:
    """The team on ``server``, with leases of ``ttl`` seconds."""
    return parse_config(TEAM.format(url=server.url, ttl=ttl))


@asynccontextmanager
async def nodes(config: TeamConfig, *names: str) -> AsyncIterator[list[Team]]:
    """The teams of ``names``, started in order, once every agent is where placement puts it
    over them (hand-overs done)."""
    async with AsyncExitStack() as stack:
        teams = [await stack.enter_async_context(Team(config, node=n, env={})) for n in names]
        expected = place(AGENTS, list(names))

        async def settled() -> bool:
            for team in teams:
                view = await team.placement()
                if view is None or view["owners"] != expected or view["nodes"] != list(names):
                    return False
            return True

        await wait_until(settled, timeout=DEADLINE, what="placement over the nodes")
        yield teams


async def test_every_agent_answers_through_either_node(nats_server: LocalNatsServer) -> None:
    config = config_for(nats_server)
    async with nodes(config, "n1", "n2") as (one, two):
        owners = (await one.placement() or {})["owners"]
        assert set(owners.values()) == {"n1", "n2"}  # both nodes own something
        for team in (one, two):
            for agent in ("a", "b", "c"):
                assert await team.ask(agent, f"to {agent}") == f"to {agent}"
            with pytest.raises(UnknownAgent):
                await team.ask("nobody", "x")
        # A durable tell through the node that does not own the recorder.
        sender = one if owners["log"] == "n2" else two
        await sender.tell("log", "stored")
        assert sender.durable("log") and not sender.durable("a")
        await wait_until(
            lambda: sender.ask("log", "log"), timeout=DEADLINE, what="the tell handled"
        )
        assert await sender.ask("log", "log") == ["stored"]


async def test_actors_placement_and_readiness_name_the_nodes(
    nats_server: LocalNatsServer,
) -> None:
    config = config_for(nats_server)
    async with nodes(config, "n1", "n2") as (one, two):
        view = await one.placement()
        assert view is not None
        assert view["node"] == "n1" and view["ready"] and view["nodes"] == ["n1", "n2"]
        assert view == {**(await two.placement() or {}), "node": "n1"}
        for team, name in ((one, "n1"), (two, "n2")):
            rows = {row["name"]: row for row in team.actors()}
            owned = {agent for agent, owner in view["owners"].items() if owner == name}
            assert owned == set(rows) & set(AGENTS)  # only its own agents run here
            assert {row["node"] for row in rows.values()} == {name}
            ready, report = await team.readiness()
            assert ready and report["cluster"] == {"node": name, "ready": True}


async def test_api_answers_for_any_agent_and_shows_the_cluster(
    nats_server: LocalNatsServer,
) -> None:
    config = config_for(nats_server)
    async with nodes(config, "n1", "n2") as (one, _two):
        transport = httpx.ASGITransport(app=create_app(one))
        async with httpx.AsyncClient(transport=transport, base_url="http://n1") as http:
            cluster: dict[str, Any] = (await http.get("/v1/cluster")).json()
            assert cluster["node"] == "n1" and cluster["nodes"] == ["n1", "n2"]
            assert cluster["owners"] == place(AGENTS, ["n1", "n2"])
            remote = next(a for a, owner in cluster["owners"].items() if owner == "n2")
            answer = await http.post(f"/v1/agents/{remote}/ask", json={"message": "hi"})
            assert answer.status_code == 200, answer.text
            told = await http.post("/v1/agents/log/tell", json={"message": "m"})
            assert told.status_code == 202 and told.json()["durable"] is True
            assert (await http.get("/readyz")).status_code == 200
            rows = (await http.get("/v1/actors")).json()
            assert {row["node"] for row in rows} == {"n1"}
            metrics = (await http.get("/metrics")).text  # the node's cluster series too
            owned = sum(owner == "n1" for owner in cluster["owners"].values())
            assert f'letta_actors_cluster_owned_actors{{node="n1"}} {owned}\n' in metrics
            assert 'letta_actors_cluster_node_ready{node="n1"} 1\n' in metrics


async def test_cluster_route_is_404_in_one_process() -> None:
    config = parse_config(TEAM.split("[cluster]")[0].replace("durable = true", ""))
    async with Team(config, env={}) as team:
        transport = httpx.ASGITransport(app=create_app(team))
        async with httpx.AsyncClient(transport=transport, base_url="http://solo") as http:
            answer = await http.get("/v1/cluster")
            assert answer.status_code == 404 and "no [cluster]" in answer.json()["detail"]
            assert {row["node"] for row in (await http.get("/v1/actors")).json()} == {None}
        assert await team.placement() is None


async def test_nats_away_answers_503_for_remote_agents_and_local_ones_still_work(
    nats_server: LocalNatsServer,
) -> None:
    # Leases far longer than the test: n1 keeps its own agents while NATS is away.
    config = config_for(nats_server, ttl=60.0)
    async with nodes(config, "n1", "n2") as (one, _two):
        owners = place(AGENTS, ["n1", "n2"])
        local = next(a for a in ("a", "b", "c") if owners[a] == "n1")
        remote = next(a for a in ("a", "b", "c") if owners[a] == "n2")
        transport = httpx.ASGITransport(app=create_app(one))
        async with httpx.AsyncClient(transport=transport, base_url="http://n1") as http:
            nats_server.kill()
            try:
                away = await http.post(f"/v1/agents/{remote}/ask", json={"message": "x"})
                assert away.status_code == 503, away.text
                assert away.json()["error"] == "cluster_unavailable"
                assert away.headers["Retry-After"] == "1"
                view = await http.get("/v1/cluster")
                assert view.status_code == 503 and view.json()["error"] == "cluster_unavailable"
                here = await http.post(f"/v1/agents/{local}/ask", json={"message": "x"})
                assert here.status_code == 200 and here.json()["reply"] == "x"
            finally:
                nats_server.restart()


CRASHING = f"""
[supervision]
intensity = {{{{ max_restarts = 0, period = 60 }}}}

[agents.crash]
kind = "python"
factory = "tests.daemon.actors:Crashing"
{echoes("a", "b")}
[cluster]
nats_url = "{{url}}"

[cluster.leases]
ttl = 60.0
renew_interval = 0.3
"""


async def test_a_node_whose_supervision_gives_up_hands_its_agents_over_at_once(
    nats_server: LocalNatsServer,
) -> None:
    # Leases of 60 s: the survivor gets n1's agents because n1 released them, not by expiry.
    config = parse_config(CRASHING.format(url=nats_server.url))
    owners = place(["crash", "a", "b"], ["n1", "n2"])
    assert owners == {"crash": "n1", "a": "n2", "b": "n1"}
    failures: list[BaseException] = []
    started = anyio.Event()

    async def node_one() -> None:
        try:
            async with Team(config, node="n1", env={}):
                started.set()
                await anyio.sleep_forever()
        except SupervisionEscalated as exc:  # its root supervisor gave up: the team stopped
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(node_one)
        await started.wait()
        async with Team(config, node="n2", env={}) as two:

            async def placed(expected: dict[str, str]) -> bool:
                view = await two.placement()
                return view is not None and view["owners"] == expected

            await wait_until(lambda: placed(owners), timeout=DEADLINE, what="placement")
            assert await two.ask("crash", "hi") == "hi"  # answered: n1 serves it now
            await two.tell("crash", "crash")  # n1's root gives up: no restart allowed
            everything = dict.fromkeys(owners, "n2")
            await wait_until(lambda: placed(everything), timeout=DEADLINE, what="hand-over")
            assert [await two.ask(name, "hi") for name in owners] == ["hi"] * 3
    assert len(failures) == 1


async def test_a_node_started_again_lists_its_past_runs_and_marks_a_crashed_one_interrupted(
    nats_server: LocalNatsServer,
) -> None:
    config = config_for(nats_server)
    async with nodes(config, "n1") as (n1,):
        entry = n1.start_run("both", "hello")
        await wait_until(lambda: entry.state == "finished", timeout=DEADLINE, what="the run")
        assert entry.status == "completed"
        assert n1.runtime is not None
        # As a crash would leave it: a record saved while its run was going.
        n1.runtime.run_records.save_run("crashed", 1.0, {**entry.stored(), "run_id": "crashed",
                                                         "state": "running"})  # fmt: skip
    async with Team(config, node="n1", env={}) as again:
        listed = {run.id: run for run in again.runs}
        assert listed[entry.id].status == "completed"
        assert listed["crashed"].status == "interrupted"
    async with Team(config, node="n2", env={}) as other:
        assert list(other.runs) == [], "each node lists its own runs"
