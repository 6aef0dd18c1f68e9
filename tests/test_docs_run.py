"""Every code block of README.md and docs/*.md runs as written (conventions: tests/docs_blocks.py).

Python blocks run here on the backends their code names (both for ``anyio.run``); those marked
``<!-- needs: letta -->`` run in tests/letta/test_docs_letta.py against the local stack. TOML
blocks load with the daemon's ``load_config``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from letta_actors.daemon import load_config

from .docs_blocks import DOCS, KNOWN_MARKERS, Block, all_blocks, parse, python_runs, run_python

#: Generous: a block is meant to take well under 2 s; this only turns a hang into a failure.
TIMEOUT = 60.0


@pytest.mark.parametrize(("block", "backend"), python_runs(letta=False))
def test_python_block_runs(
    block: Block, backend: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_python(block, backend, timeout=TIMEOUT)


@pytest.mark.parametrize("block", all_blocks("toml"), ids=lambda block: block.id)
def test_toml_block_is_a_valid_team_file(block: Block, tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text(block.code)
    load_config(path)


def test_markers_are_known_and_rare() -> None:
    blocks = [block for path in DOCS for block in parse(path)]
    python = [block for block in blocks if block.lang == "python"]
    assert len(python) >= 10, "no Python blocks found: is the parser broken?"
    for block in blocks:
        if block.marker is not None:
            kind, value = block.marker
            assert kind in KNOWN_MARKERS, f"{block.id}: unknown marker {kind!r}"
            assert value, f"{block.id}: a {kind} marker needs a value (a reason)"
            assert kind != "needs" or value == "letta", f"{block.id}: needs what? {value!r}"
    not_run = [block.id for block in python if block.not_run is not None]
    assert len(not_run) <= max(2, len(python) // 10), f"too many blocks not run: {not_run}"
