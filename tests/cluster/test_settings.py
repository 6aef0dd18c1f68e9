"""Cluster settings: defaults, and the refusals with their messages (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from letta_actors.cluster import ClusterConfigError, ClusterSettings, LeaseSettings


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
