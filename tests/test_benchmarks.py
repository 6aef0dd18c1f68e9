"""The benchmark runner works (a smoke run; figures are measured by ``python -m benchmarks``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def quick_run(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m benchmarks --quick ARGS`` from the checkout's root; asserts it succeeded."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_quick_run_reports_every_section_and_a_verdict_per_target() -> None:
    done = quick_run("--only", "tell,ask,spawn,restart,tracing,scale")
    for section in ("| tell |", "| ask |", "| spawn |", "| restart |", "| tracing |", "| scale |"):
        assert section in done.stdout
    assert "| target | measured | verdict |" in done.stdout


def test_quick_cluster_remote_measures_every_subject_and_judges_every_target(
    tmp_path: Path,
) -> None:
    """Two nodes in one process really exchange tells, asks and durable tells (none skipped)."""
    pytest.importorskip("nats")
    out = tmp_path / "bench.json"
    quick_run("--only", "cluster_remote", "--json", str(out))
    section = json.loads(out.read_text())["sections"]["cluster_remote"]
    skipped = {m["subject"]: m["skipped"] for m in section["measurements"] if not m["samples"]}
    assert skipped == {}
    assert len(section["targets"]) == 4
    assert all(t["verdict"] in ("met", "NOT MET") for t in section["targets"])
