"""The README's main job: ``python -m letta_actors.demo`` runs the content team through the
daemon on the local stack, prints the run, its sequence diagram and a metrics summary, and the
daemon stops cleanly."""

from __future__ import annotations

import os
import subprocess
import sys

from letta_actors.localstack import LocalStack, ScriptedLLMAdmin


def test_demo_runs_the_content_team_through_the_daemon(
    letta_stack: LocalStack, scripted_llm: ScriptedLLMAdmin
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LETTA_BASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "letta_actors.demo", "sea otters"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "run " in out and "(article): completed" in out
    for specialist in ("researcher", "writer", "editor"):
        assert f"chief -> {specialist} [ok]" in out
    assert "sequenceDiagram" in out
    assert "metrics (" in out and "chief" in out.split("metrics (")[1]
    assert "daemon stopped (exit 0)" in out
    assert '"abandoned_asks": []' in out
