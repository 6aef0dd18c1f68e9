"""Fixtures and helpers for the LettaAgent tests (imported by ``test_agent*.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from letta_actors.letta import (
    AgentSpec,
    BreakerConfig,
    ConnectionConfig,
    LettaConnection,
    RetryPolicy,
)
from letta_actors.localstack import LocalStack
from letta_actors.localstack.environment import delete_tagged_agents

#: Fast retries for tests: many short attempts (a Letta restart takes ~20-40 s).
TEST_RETRY = RetryPolicy(max_attempts=200, base_delay=0.1, max_delay=1.0, jitter=0.1, deadline=180)
TEST_BREAKER = BreakerConfig(failure_threshold=3, reset_timeout=1.0)


def marker(token: str, role: str) -> str:
    """The text put in the system prompt of agent ``role`` (for ``system_contains`` rules)."""
    return f"[{token}:{role}]"


def spec_for(stack: LocalStack, token: str, role: str, **extra: Any) -> AgentSpec:
    """A find-or-create spec named after the test token, tagged with it for clean-up."""
    return AgentSpec(
        name=f"{role}-{token}",
        system=f"You are the agent {role}. Marker: {marker(token, role)}",
        persona=f"A scripted test agent called {role}.",
        human="The test suite.",
        model=stack.model_handle,
        embedding=stack.embedding_handle,
        tags=(token,),
        **extra,
    )


def connection_config(stack: LocalStack, **settings: Any) -> ConnectionConfig:
    base: dict[str, Any] = {
        "base_url": stack.letta_base_url,
        "retry": TEST_RETRY,
        "breaker": TEST_BREAKER,
        "request_timeout": 120.0,
    }
    base.update(settings)
    return ConnectionConfig(**base)


@pytest.fixture
async def letta_conn(letta_stack: LocalStack, agent_token: str) -> AsyncIterator[LettaConnection]:
    """A LettaConnection to the local stack; deletes the test's agents afterwards."""
    async with LettaConnection(connection_config(letta_stack)) as conn:
        try:
            yield conn
        finally:
            await delete_tagged_agents(conn, agent_token)
