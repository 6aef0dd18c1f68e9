"""End to end: the demo's content team through the daemon on the local stack, traced to an
OTLP/HTTP receiver in the test. The decoded spans of the workflow run form one trace, parent
and child as the calls went: run -> delegation -> message handled by the specialist -> its
Letta request."""

from __future__ import annotations

import signal
import uuid

import pytest
from letta_client import Letta

from letta_actors.demo.content_team import ROLES, scripted_rules, team_toml
from letta_actors.localstack import LocalStack, ScriptedLLMAdmin

from ..daemon.conftest import StartDaemon
from ..daemon.helpers import wait_for
from .otlp_receiver import ReceivedSpan, otlp_receiver

pytestmark = pytest.mark.letta


def _ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain = []
    while span.parent_id is not None:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


def test_a_workflow_run_is_one_trace_across_agents(
    letta_stack: LocalStack, scripted_llm: ScriptedLLMAdmin, start_daemon: StartDaemon
) -> None:
    token = uuid.uuid4().hex[:8]
    scripted_llm.set_rules(scripted_rules(token))
    team = f"traced-{token}"
    stack = letta_stack
    text = team_toml(team=team, token=token, base_url=stack.letta_base_url,
                     model=stack.model_handle, embedding=stack.embedding_handle)  # fmt: skip
    with otlp_receiver() as (endpoint, receiver):
        text += f'\n[tracing]\nenabled = true\nendpoint = "{endpoint}"\n'
        try:
            daemon = start_daemon(text)
            with daemon.client() as http:
                started = http.post("/v1/workflows/article/runs", json={"input": "sea otters"})
                assert started.status_code == 202, started.text
                run_id = started.json()["run_id"]

                def finished() -> dict[str, object] | None:
                    run: dict[str, object] = http.get(f"/v1/runs/{run_id}").json()
                    return run if run["state"] != "running" else None

                run = wait_for(finished, timeout=600, what="the workflow run")
            assert run["status"] == "completed", run
            daemon.signal(signal.SIGTERM)
            assert daemon.wait(timeout=120) == 0  # spans are exported as the daemon stops
        finally:
            _delete_agents(letta_stack, token)
        spans = receiver.snapshot()
    assert receiver.rejected == []
    assert {s.service for s in spans} == {team}
    by_id = {s.span_id: s for s in spans}
    (root,) = [s for s in spans if s.name == "run orchestrator:article"]
    assert root.parent_id is None
    assert root.attributes["letta_actors.outcome"] == "completed"
    in_run = [s for s in spans if s.trace_id == root.trace_id]
    # The chief's turn, as docs/tracing.md draws it: its own Letta requests and delegations.
    (chief,) = [s for s in in_run if s.name == "handle chief"]
    assert sorted(s.name for s in in_run if s.parent_id == chief.span_id) == sorted(
        ["letta send message", "letta send tool returns", "letta send tool returns"]
        + [f"delegate {role}" for role in ROLES]
    )
    # Every agent the run touched is in its one trace, and only this run is.
    handled = {s.attributes["letta_actors.actor"] for s in in_run if s.name.startswith("handle ")}
    assert handled == {"chief", *ROLES}
    for role in ROLES:
        (delegation,) = [s for s in in_run if s.name == f"delegate {role}"]
        assert delegation.attributes["letta_actors.step.source"] == "chief"
        assert delegation.attributes["letta_actors.outcome"] == "ok"
        (specialist,) = [s for s in in_run if s.name == f"handle {role}"]
        assert specialist.parent_id == delegation.span_id
        assert specialist.attributes["letta_actors.message.kind"] == "ask"
        requests = [s for s in in_run if s.name == "letta send message"
                    and s.parent_id == specialist.span_id]  # fmt: skip
        assert len(requests) == 1
        request = requests[0]
        assert request.attributes["letta_actors.actor"] == role
        assert str(request.attributes["letta.run_id"]).startswith("run-")
        assert request.attributes["letta.retries"] == 0
        assert request.attributes["letta.breaker_state"] == "closed"
        # run -> orchestrate chief -> handle chief -> delegate -> handle specialist -> request
        chain = [s.name for s in _ancestors(request, by_id)]
        assert chain == [f"handle {role}", f"delegate {role}", "handle chief",
                         "orchestrate chief", "run orchestrator:article"]  # fmt: skip


def _delete_agents(stack: LocalStack, tag: str) -> None:
    client = Letta(base_url=stack.letta_base_url, max_retries=0)
    for agent in client.agents.list(tags=[tag]):
        client.agents.delete(agent.id)
