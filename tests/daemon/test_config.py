"""The team file: schema, every error at once, secrets never in the file, the example."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from letta_actors.daemon import ConfigError, load_config, parse_config
from letta_actors.daemon.describe import describe
from letta_actors.letta import (
    AgentOptions,
    AgentSpec,
    ConnectionConfig,
    LettaAgent,
    LettaConnection,
    MemoryBlock,
)
from letta_actors.team import (
    LettaAgentConfig,
    PythonAgentConfig,
    letta_factory,
    python_factories,
)

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


def _other_value(field: FieldInfo) -> Any:
    """A valid value of ``field`` that is not its default (JSON-like, for a TOML file)."""
    kind, default = field.annotation, field.default
    if kind in (str, str | None):
        return "set-in-file"
    if kind in (bool, bool | None):
        return default is not True
    if kind in (int, int | None):
        return 7 if default is None else default + 1  # within every bound so far
    if kind in (float, float | None):
        return 2.5 if not default else default / 2  # within every bound so far
    if kind == tuple[str, ...]:
        return ["set-in-file"]
    if kind == tuple[MemoryBlock, ...]:
        return [{"label": "notes", "value": "set in the file"}]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return {name: _other_value(inner) for name, inner in kind.model_fields.items()}
    raise AssertionError(f"add a value for {kind} to this test")


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)  # strings, numbers and booleans are written alike in TOML


def test_every_agent_spec_and_option_field_is_set_in_the_file_and_reaches_the_agent() -> None:
    spec_fields = {
        name: _other_value(field)
        for name, field in AgentSpec.model_fields.items()
        if name not in ("name", "owner_tag")  # the file's `letta_name`; the package's tag
    }
    options = {name: _other_value(field) for name, field in AgentOptions.model_fields.items()}
    lines = [f"{name} = {_toml(value)}" for name, value in spec_fields.items()]
    text = "\n".join(
        ['[letta]\nmodel = "m-default"', "[agents.w]", *lines, f"options = {_toml(options)}"]
    )
    config = parse_config(text, "team.toml")

    agent = letta_factory(config, "w", LettaConnection(base_url="http://127.0.0.1:9"))()
    assert isinstance(agent, LettaAgent)
    assert agent.options == AgentOptions.model_validate(options)
    for name, value in spec_fields.items():
        got = getattr(agent.spec, name)
        if name == "tags":  # the team's name is added
            assert got == (*value, "team")
        elif name == "memory_blocks":
            assert got == tuple(MemoryBlock.model_validate(v) for v in value)
        else:
            assert got == (tuple(value) if isinstance(value, list) else value), name
    assert agent.spec.name == "team-w"
    # What the file leaves out comes from [letta] and the defaults.
    bare = parse_config('[letta]\nmodel = "m-default"\n[agents.w]\n').letta_spec("w")
    assert bare.model == "m-default" and bare.memory_blocks == () and bare.agent_id is None


def test_every_connection_field_is_set_in_letta_and_reaches_the_connection() -> None:
    fields = {
        name: _other_value(field)
        for name, field in ConnectionConfig.model_fields.items()
        if name != "api_key"  # never in the file: `api_key_env` names its variable
    }
    fields["base_url"] = "http://letta.example:8283"  # a URL, checked
    text = "\n".join(
        ["[letta]", *(f"{n} = {_toml(v)}" for n, v in fields.items()), 'api_key_env = "KEY"']
    )
    config = parse_config(f"{text}\n[agents.w]\n", "team.toml")
    connection = config.letta.connection({"KEY": "sk-from-env"})
    assert connection == ConnectionConfig.model_validate({**fields, "api_key": "sk-from-env"})
    assert LettaConnection(connection).server == "http://letta.example:8283"
