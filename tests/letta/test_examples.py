"""Every example in examples/ runs to completion on the local stack (as a newcomer would)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from letta_actors.localstack import LocalStack, ScriptedLLMAdmin

pytestmark = [pytest.mark.anyio, pytest.mark.letta]

EXAMPLES = sorted(
    path
    for path in (Path(__file__).parents[2] / "examples").glob("*.py")
    if not path.name.startswith(("_", "embedded_"))
)


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
async def test_example_runs(
    path: Path,
    letta_stack: LocalStack,
    scripted_llm: ScriptedLLMAdmin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("LETTA_BASE_URL", raising=False)  # the local stack, as in the README
    await load(path).main()
    printed = capsys.readouterr().out
    assert printed.strip(), f"{path.name} printed nothing"
