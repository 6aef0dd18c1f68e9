"""Cluster settings: defaults, and the refusals with their messages (no server needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from letta_actors.cluster import ClusterConfigError, ClusterSettings, LeaseSettings, TLSSettings
from letta_actors.daemon.describe import describe
from letta_actors.team import ConfigError, parse_config


def test_defaults_are_a_loopback_node_with_sane_leases() -> None:
    s = ClusterSettings(node="n1")
    assert s.is_loopback
    assert s.leases.renew_every < s.leases.ttl / 2
    assert s.leases.renew_every < s.leases.valid_for < s.leases.ttl
    assert s.credentials({}) == {}


@pytest.mark.parametrize(
    ("ttl", "renew", "margin", "message"),
    [
        (10.0, 5.0, None, "less than half"),
        (10.0, 4.0, 7.0, "ttl - leases.margin"),
        (0.1, None, None, "greater than or equal to 0.5"),
    ],
)
def test_lease_timings_that_do_not_fit_are_refused(
    ttl: float, renew: float | None, margin: float | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        LeaseSettings(ttl=ttl, renew_interval=renew, margin=margin)


@pytest.mark.parametrize(
    "url",
    ["nats://127.0.0.1:4222", "nats://localhost:4222", "nats://[::1]:4222", "tls://127.0.0.2"],
)
def test_loopback_urls_need_no_credentials(url: str) -> None:
    assert ClusterSettings(nats_url=url, node="n1").is_loopback


def test_a_remote_url_without_credentials_is_refused_unless_allowed() -> None:
    with pytest.raises(ValidationError, match="not on loopback and no credentials"):
        ClusterSettings(nats_url="nats://10.0.0.5:4222", node="n1")
    assert ClusterSettings(nats_url="nats://nats.internal", node="n1", allow_insecure_remote=True)
    assert ClusterSettings(nats_url="nats://nats.internal", node="n1", token_env="NATS_TOKEN")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"nats_url": "nats://u:secret@127.0.0.1"}, "must not carry credentials"),
        ({"nats_url": "http://127.0.0.1"}, "must look like nats://"),
        ({"user_env": "NATS_USER"}, "go together"),
        ({"token_env": "T", "creds_file_env": "C"}, "one kind of credentials"),
        ({"node": "two words"}, "pattern"),
        ({"tls": {"cert_file": "c.pem"}}, "go together"),
        ({"tls": {}}, "not tls:// or wss://"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ClusterSettings.model_validate({"node": "n1", **fields})


def test_credentials_come_from_the_named_variables(tmp_path: Path) -> None:
    s = ClusterSettings(node="n1", user_env="NU", password_env="NP")
    assert s.credentials({"NU": "alice", "NP": "pw"}) == {"user": "alice", "password": "pw"}
    with pytest.raises(ClusterConfigError, match="NP"):
        s.credentials({"NU": "alice"})
    creds = tmp_path / "node.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\n")
    s = ClusterSettings(node="n1", creds_file_env="NC")
    assert s.credentials({"NC": str(creds)}) == {"user_credentials": str(creds)}
    with pytest.raises(ClusterConfigError, match="does not exist"):
        s.credentials({"NC": str(tmp_path / "missing")})


def test_one_url_stays_a_string_as_before() -> None:
    s = ClusterSettings(nats_url="nats://127.0.0.1:4222", node="n1")
    assert s.nats_url == "nats://127.0.0.1:4222"
    assert s.nats_urls == ("nats://127.0.0.1:4222",)
    assert ClusterSettings(nats_url=["nats://127.0.0.1:4222"], node="n1") == s


@pytest.mark.parametrize(
    "given",
    [
        ["nats://127.0.0.1:4222", "nats://localhost:4223", "nats://[::1]:4224"],
        ("nats://127.0.0.1:4222", "nats://localhost:4223", "nats://[::1]:4224"),
        "nats://127.0.0.1:4222,nats://localhost:4223,nats://[::1]:4224",
        " nats://127.0.0.1:4222 , nats://localhost:4223,  nats://[::1]:4224 ",
    ],
)
def test_several_urls_as_a_list_or_with_commas(given: str | list[str]) -> None:
    s = ClusterSettings(nats_url=given, node="n1")
    urls = ("nats://127.0.0.1:4222", "nats://localhost:4223", "nats://[::1]:4224")
    assert s.nats_url == s.nats_urls == urls
    assert s.is_loopback
    assert hash(s)  # still a frozen, hashable model


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ([], "lists no URL"),
        ("nats://127.0.0.1:4222,,nats://127.0.0.1:4223", "empty entry"),
        (["nats://127.0.0.1", "http://127.0.0.2"], "'http://127.0.0.2' must look like nats://"),
        (["nats://127.0.0.1", "nats://127.0.0.2:port"], "'nats://127.0.0.2:port' must look like"),
        (["nats://127.0.0.1", "nats:///no-host"], "'nats:///no-host' must look like"),
        (["nats://127.0.0.1", "nats://127.0.0.1"], "'nats://127.0.0.1' more than once"),
        (["nats://127.0.0.1", "tls://127.0.0.2"], "mixes schemes"),
        ("ws://127.0.0.1,nats://127.0.0.2", "mixes schemes"),
    ],
)
def test_each_bad_url_of_a_list_is_named(urls: str | list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ClusterSettings(nats_url=urls, node="n1")


def test_credentials_in_one_url_of_a_list_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValidationError) as caught:
        ClusterSettings(nats_url="nats://127.0.0.1,nats://u:s3cret@127.0.0.2:4222", node="n1")
    (error,) = caught.value.errors()
    assert "nats_url 'nats://***@127.0.0.2:4222' must not carry credentials" in error["msg"]
    assert "s3cret" not in error["msg"]


def test_tls_options_need_tls_on_every_url() -> None:
    tls = TLSSettings()
    assert ClusterSettings(nats_url=["tls://127.0.0.1", "tls://127.0.0.2"], node="n1", tls=tls)
    with pytest.raises(
        ValidationError, match=re.escape("nats_url 'nats://127.0.0.2' is not tls://")
    ):
        ClusterSettings(nats_url=["tls://127.0.0.1", "nats://127.0.0.2"], node="n1", tls=tls)


def test_one_remote_url_in_a_list_needs_credentials() -> None:
    urls = ["nats://127.0.0.1:4222", "nats://10.0.0.5:4222", "nats://localhost:4223"]
    refused = re.escape("'nats://10.0.0.5:4222' is not on loopback")
    with pytest.raises(ValidationError, match=refused):
        ClusterSettings(nats_url=urls, node="n1")
    s = ClusterSettings(nats_url=urls, node="n1", token_env="NATS_TOKEN")
    assert not s.is_loopback
    assert s.host == "127.0.0.1"  # the first URL's


TEAM = """
[agents.echo]
kind = "python"
factory = "tests.daemon.actors:Echo"

[cluster]
nats_url = {urls}
token_env = "NATS_TOKEN"
nats_url_order = "listed"
"""


def test_the_team_file_takes_a_list_of_urls_and_check_prints_it() -> None:
    urls = '["nats://nats-1.internal:4222", "nats://nats-2.internal:4222"]'
    config = parse_config(TEAM.format(urls=urls))
    assert config.cluster is not None
    settings = config.cluster.settings("n1", env={})
    assert settings.nats_urls == ("nats://nats-1.internal:4222", "nats://nats-2.internal:4222")
    assert settings.nats_url_order == "listed"
    assert (
        "  nats_url: nats://nats-1.internal:4222, nats://nats-2.internal:4222 "
        "(tried in listed order)\n"
    ) in describe(config)
    bad = '["nats://nats-1.internal:4222", "nats:/x"]'
    with pytest.raises(ConfigError) as caught:
        parse_config(TEAM.format(urls=bad), "team.toml")
    assert "nats_url 'nats:/x' must look like nats://host:port" in str(caught.value)
