"""The team file's ``[cluster]`` section: its fields and refusals, the node's name (``--node``,
``$LETTA_ACTORS_NODE``, the file), durable agents, and what ``check`` and ``run`` say."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from letta_actors.cluster import ClusterSettings
from letta_actors.daemon.describe import describe
from letta_actors.team import NODE_ENV, ConfigError, Team, TeamConfig, parse_config

from ..daemon.conftest import cli

AGENTS = """
[agents.writer]
persona = "writes"

[agents.echo]
kind = "python"
factory = "tests.daemon.actors:Echo"
"""

CLUSTER = f"""
{AGENTS}
[cluster]
nats_url = "nats://127.0.0.1:4222"
token_env = "TEAM_NATS_TOKEN"

[cluster.leases]
ttl = 4.0
renew_interval = 0.5
"""


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "team.toml")
    return [str(issue) for issue in caught.value.issues]


def test_cluster_section_has_the_settings_fields_and_node_is_optional() -> None:
    config = parse_config(CLUSTER)
    assert config.cluster is not None and config.cluster.node is None
    settings = config.cluster.settings("n1", env={})
    assert isinstance(settings, ClusterSettings)
    expected = {"node": "n1", "token_env": "TEAM_NATS_TOKEN",
                "leases": {"ttl": 4.0, "renew_interval": 0.5}}  # fmt: skip
    assert settings == ClusterSettings.model_validate(expected)
    assert parse_config(AGENTS).cluster is None  # no section: in-process, as before


def test_cluster_errors_are_reported_at_their_field_with_the_rest_of_the_file() -> None:
    found = issues(
        AGENTS
        + """
[agents.echo.mailbox]
capacity = 0

[cluster]
node = "not a name"
colour = "blue"
leases = { ttl = 1.0, renew_interval = 0.9 }
"""
    )
    assert "agents.echo.mailbox.capacity: Input should be greater than or equal to 1" in found[0]
    assert any(i.startswith("cluster.node: String should match pattern") for i in found)
    assert "cluster.colour: unknown field" in found
    assert any(i.startswith("cluster.leases: leases.renew_interval (0.9 s)") for i in found)
    remote = issues(AGENTS + '[cluster]\nnats_url = "nats://10.1.2.3:4222"\n')
    assert "is not on loopback and no credentials are configured" in remote[0]
    secret = issues(AGENTS + '[cluster]\ntoken = "s3cret"\n')
    assert secret == [
        "cluster.token: secrets are never written in the file; name the environment variable "
        "that holds it (token_env)"
    ]


def test_node_name_from_the_command_line_then_the_environment_then_the_file() -> None:
    section = parse_config(CLUSTER).cluster
    assert section is not None
    env = {NODE_ENV: "from-env"}
    assert section.settings("from-cli", env).node == "from-cli"
    assert section.settings(None, env).node == "from-env"
    in_file = parse_config(CLUSTER.replace("[cluster]", '[cluster]\nnode = "from-file"'))
    assert in_file.cluster is not None
    assert in_file.cluster.settings(None, {}).node == "from-file"
    assert in_file.cluster.settings(None, env).node == "from-env"
    with pytest.raises(ValueError, match=f"pass --node NAME .* or set {NODE_ENV}"):
        section.settings(None, {})
    with pytest.raises(ValueError, match="node name 'no way'"):
        section.settings("no way", {})


def test_team_resolves_its_node_at_construction() -> None:
    config = parse_config(CLUSTER)
    team = Team(config, env={NODE_ENV: "n2"})
    assert team.cluster_settings is not None and team.cluster_settings.node == "n2"
    with pytest.raises(ConfigError, match=f"cluster.node: .*--node NAME.*{NODE_ENV}"):
        Team(config, env={})
    with pytest.raises(ConfigError, match="node 'n1' is given, but the team file has no"):
        Team(parse_config(AGENTS), node="n1", env={})
    assert Team(parse_config(AGENTS), env={NODE_ENV: "n1"}).cluster_settings is None


def test_store_and_cluster_together_are_refused_saying_why() -> None:
    found = issues(CLUSTER + '\n[store]\npath = "team.db"\n')
    assert len(found) == 1
    assert "[store] and [cluster] do not go together" in found[0]
    assert "a cluster keeps durable mailboxes in JetStream" in found[0]


def test_durable_defaults_to_letta_agents_in_cluster_mode() -> None:
    config = parse_config(CLUSTER)
    assert config.durable("writer") and not config.durable("echo")
    flipped = parse_config(
        CLUSTER.replace('persona = "writes"', 'persona = "writes"\ndurable = false').replace(
            'factory = "tests.daemon.actors:Echo"',
            'factory = "tests.daemon.actors:Echo"\ndurable = true',
        )
    )
    assert not flipped.durable("writer") and flipped.durable("echo")


def test_durable_outside_cluster_mode_must_agree_with_store() -> None:
    echo_durable = AGENTS.replace("Echo", 'Echo"\ndurable = true\n#')
    found = issues(echo_durable)
    assert found == [
        "agents.echo.durable = true: without [cluster], [store] decides which agents are "
        "durable (store.actors, default all): list them there, or drop durable"
    ]
    covered = parse_config(echo_durable + '[store]\npath = "t.db"\nactors = ["echo"]\n')
    assert covered.durable("echo") and not covered.durable("writer")
    refused = issues(
        AGENTS.replace('persona = "writes"', 'persona = "writes"\ndurable = false')
        + '[store]\npath = "t.db"\n'
    )
    assert refused[0].startswith("agents.writer.durable = false: without [cluster]")
    assert not parse_config(AGENTS).durable("writer")


def test_missing_cluster_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "letta_actors.cluster", None)
    found = issues(CLUSTER)
    assert len(found) == 1
    assert found[0].startswith(
        "cluster: cluster mode needs the cluster extra: pip install 'letta-actors[cluster]'"
    )
    assert parse_config(AGENTS).cluster is None  # without [cluster] nothing is imported


def test_check_prints_the_cluster_settings_without_secrets(tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text(CLUSTER)
    result = cli("check", str(path), env={"TEAM_NATS_TOKEN": "very-s3cret-token"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "cluster:\n  nats_url: nats://127.0.0.1:4222\n" in out
    assert f"node: given at start: --node NAME or ${NODE_ENV}" in out
    assert "credentials: token from $TEAM_NATS_TOKEN" in out
    assert "leases: ttl 4 s, renewed every 0.5 s, margin 0.4 s" in out
    assert "durable mailboxes (JetStream): writer\n" in out + "\n"
    assert "very-s3cret-token" not in out
    assert "cluster:" not in describe(parse_config(AGENTS))


def test_run_refuses_a_node_without_cluster_and_cluster_without_a_node(tmp_path: Path) -> None:
    plain, clustered = tmp_path / "plain.toml", tmp_path / "cluster.toml"
    plain.write_text(AGENTS)
    clustered.write_text(CLUSTER)
    env = {NODE_ENV: ""}
    result = cli("run", str(plain), "--node", "n1", env=env)
    assert result.returncode == 2
    assert f"{plain}: cluster: node 'n1' is given, but the team file has no [cluster]" in (
        result.stderr
    )
    result = cli("run", str(clustered), env=env)
    assert result.returncode == 2
    assert f"{clustered}: cluster.node: cluster mode needs this node's name: pass --node" in (
        result.stderr
    )
    assert NODE_ENV in result.stderr


def test_run_on_trio_with_cluster_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text(CLUSTER)
    result = cli("run", str(path), "--node", "n1", "--backend", "trio")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"{path}: cluster mode needs asyncio (nats-py is asyncio-only): not --backend trio"
    )


def test_team_config_built_in_python_checks_cluster_too() -> None:
    with pytest.raises(ValueError, match=r"cluster\.leases"):
        TeamConfig.model_validate(
            {
                "agents": {"a": {"kind": "python", "factory": "m:f"}},
                "cluster": {"leases": {"ttl": 1.0, "renew_interval": 0.9}},
            }
        )
