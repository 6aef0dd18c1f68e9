"""Issue 13, test 3 with a Letta agent: a lone daemon on the embedded store, SIGKILLed while its
Letta agent's run for a stored message is in progress, started again on the same file. The
message comes back with ``attempt=2``; the agent looks its ``otid`` up instead of sending it
again, so the Letta server holds exactly one user message with that ``otid``."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import httpx
import pytest
from letta_client import Letta

from letta_actors.localstack import LocalStack, Rule, ScriptedLLMAdmin, TextReply

from ..daemon.conftest import StartDaemon
from ..daemon.helpers import wait_for
from ..letta.agent_fixtures import marker

pytestmark = pytest.mark.letta

#: How long the scripted LLM takes over the "slow" message: the daemon is killed meanwhile.
SLOW = 10.0


def team(store: Path, stack: LocalStack, token: str) -> str:
    return f"""
[team]
name = "durable-letta-{token}"

[letta]
base_url = "{stack.letta_base_url}"
model = "{stack.model_handle}"
embedding = "{stack.embedding_handle}"
request_timeout = 120

[agents.alpha]
letta_name = "alpha-{token}"
system = "You are the agent alpha. Marker: {marker(token, "alpha")}"
tags = ["{token}"]

[store]
path = "{store}"

[api]
port = 0
"""


def rules(token: str) -> list[Rule]:
    """alpha echoes at once, but takes :data:`SLOW` seconds over a message saying "slow"."""
    echo = TextReply(text="echo: {last_message}")
    alpha = marker(token, "alpha")
    return [
        Rule(
            system_contains=alpha,
            last_role="user",
            last_user_message_contains="slow",
            latency_seconds=SLOW,
            reply=echo,
        ),
        Rule(system_contains=alpha, last_role="user", reply=echo),
    ]


def llm_busy_with(llm: ScriptedLLMAdmin, token: str) -> bool:
    """Whether the LLM is answering a request of alpha's now."""
    return any(
        r.status is None and r.view is not None and marker(token, "alpha") in r.view.system
        for r in llm.requests(include_body=False)
    )


def test_a_letta_run_in_progress_at_a_sigkill_reaches_letta_once(
    start_daemon: StartDaemon,
    letta_stack: LocalStack,
    scripted_llm: ScriptedLLMAdmin,
    agent_token: str,
    tmp_path: Path,
) -> None:
    scripted_llm.set_rules(rules(agent_token))
    text = team(tmp_path / "team.db", letta_stack, agent_token)
    letta = Letta(base_url=letta_stack.letta_base_url, max_retries=0)
    try:
        first = start_daemon(text)
        with first.client() as http:
            told = http.post(
                "/v1/agents/alpha/tell", json={"message": "slow one", "message_id": "order-1"}
            )
            assert told.status_code == 202 and told.json()["durable"] is True, told.text
        wait_for(lambda: llm_busy_with(scripted_llm, agent_token), what="alpha's LLM request")
        first.signal(signal.SIGKILL)  # Letta has the message; the store, no acknowledgement
        assert first.wait() == -signal.SIGKILL

        second = start_daemon(text)
        with httpx.Client(base_url=second.url, timeout=150) as http:
            # Queued after the restored message: answered once that one is done.
            asked = http.post("/v1/agents/alpha/ask", json={"message": "after", "timeout": 120})
            assert asked.status_code == 200, asked.text
            assert asked.json()["text"] == "echo: after"
        second.signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
        [agent] = letta.agents.list(name=f"alpha-{agent_token}")
        page = letta.agents.messages.list(agent.id, limit=100, order="desc")
        otids = Counter(m.otid for m in page.items if m.message_type == "user_message")
    finally:
        for stale in letta.agents.list(tags=[agent_token]):
            letta.agents.delete(stale.id)
    assert otids == {"order-1": 1, asked.json()["message_id"]: 1}
    assert second.report()["dead_letters"] == {"totals": {}, "letters": []}
