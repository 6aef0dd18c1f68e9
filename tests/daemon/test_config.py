"""The team file: schema, every error at once, secrets never in the file, the example."""

from __future__ import annotations

from pathlib import Path

import pytest

from letta_actors.daemon import ConfigError, load_config, parse_config
from letta_actors.daemon.describe import describe
from letta_actors.team import LettaAgentConfig, PythonAgentConfig, python_factories

from .helpers import ECHO_TEAM, REPO

BROKEN = """
[letta]
api_key = "sk-do-not-write-me"
base_url = "ftp://nowhere"

[agents.a]
kind = "python"
factory = "no-colon"
mailbox = { capacity = 0, overflow = "explode" }

[agents.b]
persona = "p"
supervisor = "ghost"
colour = "blue"

[[links]]
from = "a"
to = "zz"

[workflows.w]
kind = "pipeline"
stages = [{ name = "s", actor = "nobody" }, { name = "s", actor = "a" }]

[workflows.v]
kind = "teleport"

[api]
port = 70000
"""


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BROKEN, "team.toml")
    found = {(issue.location, issue.message.split(" (got")[0]) for issue in caught.value.issues}
    locations = {location for location, _ in found}
    assert {
        "letta.api_key",
        "letta.base_url",
        "agents.a.factory",
        "agents.a.mailbox.capacity",
        "agents.a.mailbox.overflow",
        "agents.b.colour",
        "agents.b.supervisor",
        "links[0].to",
        "workflows.w.stages",
        "workflows.w.stages[0].actor",
        "workflows.v",
        "api.port",
    } <= locations
    text = str(caught.value)
    assert text.startswith("team.toml: ")
    assert all(line.startswith("team.toml: ") for line in text.splitlines())
    assert "sk-do-not-write-me" not in text
    assert ("agents.b.colour", "unknown field") in found
    assert ("links[0].to", "unknown agent 'zz'") in found


def test_invalid_toml_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"t\.toml: invalid TOML: .*line 2"):
        parse_config("[team]\nname = \n", "t.toml")


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config("/nonexistent/team.toml")


def test_valid_team(tmp_path: Path) -> None:
    config = parse_config(ECHO_TEAM)
    assert list(config.agents) == ["echo", "upper", "slow", "tiny", "failing"]
    assert isinstance(config.agents["echo"], PythonAgentConfig)
    assert config.agents["tiny"].mailbox.overflow == "fail"
    factories = python_factories(config, tmp_path)
    assert factories["echo"]().__class__.__name__ == "Echo"
    text = describe(config)
    assert "echo -> upper" in text and "shout (pipeline): echo -> upper" in text


def test_agent_kind_defaults_to_letta() -> None:
    config = parse_config('[agents.writer]\npersona = "Writes."\nmodel = "openai/gpt-4o-mini"\n')
    assert isinstance(config.agents["writer"], LettaAgentConfig)


def test_unimportable_factory_is_a_config_error(tmp_path: Path) -> None:
    config = parse_config('[agents.x]\nkind = "python"\nfactory = "no_such_module:Thing"\n')
    with pytest.raises(ConfigError, match=r"agents\.x\.factory: cannot import"):
        python_factories(config, tmp_path)


def test_supervisor_tree_order() -> None:
    text = """
[supervisors.inner]
strategy = "one_for_all"
parent = "outer"
[supervisors.outer]
[agents.a]
kind = "python"
factory = "m:f"
supervisor = "inner"
"""
    with pytest.raises(ConfigError, match=r"supervisors\.inner\.parent: unknown supervisor"):
        parse_config(text)


def test_example_team_file_is_valid() -> None:
    config = load_config(REPO / "examples" / "team.toml")
    assert config.letta_agents()
    assert config.workflows


PATTERN_TEAM = """
[agents.chief]
role = "orchestrator"
persona = "runs the team"
[agents.a]
persona = "a"
description = "does a"
[agents.b]
persona = "b"

[workflows.plan]
kind = "orchestrator"
orchestrator = "chief"
specialists = ["a", "b"]
max_parallel = 2

[workflows.vote]
kind = "consensus"
voters = ["a", "b"]
rules = { options = ["yes", "no"], tie_break = "none" }
second_round = true

[workflows.desk]
kind = "handoff"
agents = ["a", "b"]
entry = "a"
links = [["a", "b"]]
max_handoffs_per_message = 2
"""


def test_orchestrator_consensus_and_handoff_workflows_are_declarable() -> None:
    config = parse_config(PATTERN_TEAM, "team.toml")
    kinds = {name: workflow.kind for name, workflow in config.workflows.items()}
    assert kinds == {"plan": "orchestrator", "vote": "consensus", "desk": "handoff"}
    chief = config.agents["chief"]
    assert isinstance(chief, LettaAgentConfig) and chief.role == "orchestrator"
    assert config.workflows["plan"].actors() == ["chief", "a", "b"]
    assert "plan" in describe(config)


def test_pattern_workflow_errors_name_the_field() -> None:
    broken = PATTERN_TEAM.replace('tie_break = "none"', 'tie_break = "chair"').replace(
        'specialists = ["a", "b"]', "specialists = []"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(broken, "team.toml")
    locations = {issue.location for issue in caught.value.issues}
    assert any(loc.startswith("workflows.plan.") and "specialists" in loc for loc in locations)
    assert any(loc.startswith("workflows.vote.") and "rules" in loc for loc in locations)


def test_pattern_workflow_rules_are_checked_when_the_file_loads() -> None:
    broken = PATTERN_TEAM.replace('specialists = ["a", "b"]', 'specialists = ["a", "chief"]')
    with pytest.raises(ConfigError) as caught:
        parse_config(broken, "team.toml")
    assert any("cannot be one of its specialists" in issue.message for issue in caught.value.issues)
