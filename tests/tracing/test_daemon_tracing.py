"""The team file's ``[tracing]`` section: validated, and a team with it exports its spans over
OTLP (an in-process team of plain-Python agents; the Letta version is test_otlp_e2e)."""

from __future__ import annotations

import anyio
import pytest

from letta_actors.team import ConfigError, Team, parse_config
from letta_actors.team import config as config_module

from ..daemon.helpers import REPO, wait_for
from .otlp_receiver import otlp_receiver

TEAM = f"""
[team]
name = "traced-team"
python_path = ["{REPO}"]

[agents.echo]
kind = "python"
factory = "tests.daemon.actors:Echo"

[agents.upper]
kind = "python"
factory = "tests.daemon.actors:Upper"

[workflows.shout]
kind = "pipeline"
stages = [{{ name = "echo", actor = "echo" }}, {{ name = "upper", actor = "upper" }}]
"""


def test_tracing_is_off_by_default_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_config(TEAM).tracing.enabled is False
    with pytest.raises(ConfigError) as bad:
        parse_config(TEAM + '[tracing]\nenabled = true\nendpoint = "collector:4318"\n')
    assert "tracing.endpoint: must be an http:// or https:// URL" in str(bad.value)
    with pytest.raises(ConfigError, match=r"tracing\.unknown"):
        parse_config(TEAM + "[tracing]\nunknown = 1\n")
    monkeypatch.setattr(config_module, "tracing_available", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'letta-actors\[otel\]'"):
        parse_config(TEAM + "[tracing]\nenabled = true\n")
    assert parse_config(TEAM + "[tracing]\nenabled = false\n").tracing.enabled is False


@pytest.mark.anyio
async def test_a_team_exports_its_workflow_runs_over_otlp() -> None:
    with otlp_receiver() as (endpoint, receiver):
        config = parse_config(TEAM + f'[tracing]\nenabled = true\nendpoint = "{endpoint}"\n')
        async with Team(config, env={}) as team:
            assert team.system.tracer is not None
            entry = team.start_run("shout", "hi")
            with anyio.fail_after(30):
                await entry.done.wait()
            assert entry.status == "completed"
        spans = wait_for(receiver.snapshot, what="exported spans")
    assert {s.service for s in spans} == {"traced-team"}  # default: the team's name
    (run,) = [s for s in spans if s.name == "run pipeline:shout"]
    stages = [s for s in spans if s.name in ("stage echo", "stage upper")]
    assert [s.parent_id for s in stages] == [run.span_id] * 2
    handled = [s for s in spans if s.name in ("handle echo", "handle upper")
               and s.parent_id in {stage.span_id for stage in stages}]  # fmt: skip
    assert len(handled) == 2
    assert {s.trace_id for s in [run, *stages, *handled]} == {run.trace_id}
