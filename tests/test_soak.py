"""The soak benchmark, CI-sized: a few seconds of the mixed load against a real daemon process,
and every ask, run and counter accounted for (figures: ``python -m benchmarks soak``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_a_short_soak_leaves_nothing_unaccounted(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "benchmarks", "soak", "--minutes", "0.2", "--rate", "40",
            "--crash-every", "10", "--workflow-every", "0.5", "--runs-kept", "3",
            "--sample-every", "1", "--census-every", "5", "--warmup", "2",
            "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "soak.json").read_text())
    assert result["unaccounted"] == []
    checks = {c["check"]: c for c in result["checks"]}
    sent = checks["asks sent = answered + failed + other"]["expected"]
    crashes = checks["asks failed (502) = crashes asked for"]["expected"]
    assert sent > 0 and crashes > 0  # the load and the crashes happened
    assert checks["runs kept = min(started, runs_kept)"]["actual"] == 3  # the store filled
    assert result["samples"] and all(s["tasks"] for s in result["samples"])
    assert result["windows"]["after_warmup"]["rss_kb_per_min"] is not None
    assert "nothing unaccounted" in (tmp_path / "soak.md").read_text()
