"""The docs' Python blocks marked ``<!-- needs: letta -->`` run as written against the local
stack (conventions: tests/docs_blocks.py; the other blocks run in tests/test_docs_run.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from letta_actors.localstack import LocalStack, ScriptedLLMAdmin

from ..docs_blocks import Block, python_runs, run_python

pytestmark = pytest.mark.letta

#: Only turns a hang into a failure: a Letta block creates agents and talks to them.
TIMEOUT = 600.0


@pytest.mark.parametrize(("block", "backend"), python_runs(letta=True))
def test_letta_block_runs(
    block: Block,
    backend: str | None,
    letta_stack: LocalStack,
    scripted_llm: ScriptedLLMAdmin,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LETTA_BASE_URL", letta_stack.letta_base_url)
    monkeypatch.setenv("LETTA_MODEL", letta_stack.model_handle)
    monkeypatch.setenv("LETTA_EMBEDDING", letta_stack.embedding_handle)
    monkeypatch.delenv("LETTA_API_KEY", raising=False)
    run_python(block, backend, timeout=TIMEOUT)
