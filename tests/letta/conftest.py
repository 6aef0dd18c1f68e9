"""Fixtures for tests against the real local stack (scripted LLM + Letta 0.16.8).

``letta_stack`` starts (or reuses) the stack once per session and stops what it
started at the end; it FAILS (never skips) when the stack cannot start. The first
run installs Letta into ``~/.cache/letta-actors`` (minutes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from letta_actors.localstack import LocalStack, LocalStackConfig, ScriptedLLMAdmin


@pytest.fixture(scope="session")
def letta_stack() -> Iterator[LocalStack]:
    stack = LocalStack(LocalStackConfig.from_env())
    try:
        stack.start()
    except Exception as exc:
        pytest.fail(f"local Letta stack could not start: {exc}", pytrace=False)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def scripted_llm(letta_stack: LocalStack) -> Iterator[ScriptedLLMAdmin]:
    """The scripted LLM's admin client with rules, request log and stats cleared."""
    letta_stack.admin.reset(rules=True)
    yield letta_stack.admin
    letta_stack.admin.reset(rules=True)


@pytest.fixture
def agent_token() -> str:
    """A unique marker to put in an agent's system prompt, for ``system_contains`` rules."""
    return f"TEST-AGENT-{uuid.uuid4().hex[:12]}"
