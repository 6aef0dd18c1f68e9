"""Patterns among plain actors do not load the Letta integration (nor its client library)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_plain_patterns_leave_letta_unloaded(backend: str) -> None:
    # A fresh interpreter: this test process has loaded Letta for other tests already.
    done = subprocess.run(
        [sys.executable, "-m", "tests.patterns.plain_team", backend],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # Every pattern really ran (a run that failed early could skip the code under test).
    assert out["pipeline"] == ["completed", "X"]
    assert out["fan_out"] == ["completed", {"1": "P", "2": "Q"}]
    assert out["handoff"] == ["completed", ["sales", "support"], ["nobody"]]
    assert out["consensus"] == ["completed", "yes"]
    assert out["health"] == [True, 0]
    assert out["report"] == ["a", "b", "sales", "support", "v1", "v2"]
    assert out["loaded"] == []
