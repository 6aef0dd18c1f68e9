"""Shared test set-up: every async test runs on asyncio and on Trio; the local Letta stack.

``letta_stack`` starts (or reuses) the stack once per session and stops what it started at the
end; it FAILS (never skips) when the stack cannot start. It is defined here, once, so that every
folder (tests/letta, tests/console, tests/tracing) shares the same session's stack: a second
definition would start a second fixture that finds the first one's server and "reuses" it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from letta_actors.localstack import LocalStack, LocalStackConfig, ScriptedLLMAdmin


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


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
