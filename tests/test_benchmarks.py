"""The benchmark runner works (a smoke run; figures are measured by ``python -m benchmarks``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_quick_run_reports_every_section_and_a_verdict_per_target() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "tell,ask,spawn,restart,tracing,scale",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for section in ("| tell |", "| ask |", "| spawn |", "| restart |", "| tracing |", "| scale |"):
        assert section in done.stdout
    assert "| target | measured | verdict |" in done.stdout
