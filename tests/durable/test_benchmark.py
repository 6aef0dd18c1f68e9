"""The durable benchmark runs (a smoke run; figures are in docs/durability.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_quick_run_prints_every_subject() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.durable", "--quick", "--backend", "trio"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    subjects = ("in-memory tell", "durable tell, 1 sender", "durable tell, 16 senders",
                "raw SQLite, commit per insert (1 sender)")  # fmt: skip
    for subject in subjects:
        assert f"| {subject} |" in done.stdout
