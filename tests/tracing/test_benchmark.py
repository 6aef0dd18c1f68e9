"""The tracing benchmark section runs (a smoke run; figures: docs/benchmarks.md#tracing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_quick_tracing_section_reports_its_target() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "tracing"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| tracing | letta_actors (asyncio), tracing on | throughput |" in done.stdout
    assert "| tell, tracing installed but off >= 0.97x without tracing |" in done.stdout
