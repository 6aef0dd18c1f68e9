"""The HTTP API of a real daemon fuzzed with bad input (Hypothesis, driven by its OpenAPI
schema): never a 5xx, and nothing lost — every message taken is handled; and schemathesis with
all its checks, with and without a bearer token."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import StartDaemon
from .helpers import ECHO_TEAM, REPO

# Only fast, well-behaved agents: a 5xx could then only come from the API itself.
TEAM = ECHO_TEAM.replace("max_ask_timeout = 30", "max_ask_timeout = 5")
NAMES = st.sampled_from(["echo", "upper", "nobody", "", "..", "%00", "a/b", "é", "x" * 300])
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # what JSON can carry
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)  # fmt: skip
BODIES = st.one_of(
    st.fixed_dictionaries({"message": JSON}, optional={"timeout": st.floats() | st.text()}),
    st.fixed_dictionaries({"input": JSON}),
    st.dictionaries(st.text(max_size=10), JSON, max_size=3),
    JSON,
)
RAW = st.one_of(
    st.binary(max_size=200),
    st.just(b'{"message": ' + b"[" * 2000 + b"]" * 2000 + b"}"),  # deep, within the limit
    st.just(b'{"message": NaN}'),
    st.just(b'{"message": "' + b"x" * 5000 + b'"}'),
)


def operations(schema: dict[str, Any]) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, item in schema["paths"].items() for method in item]


def test_fuzzed_api_never_fails_and_loses_nothing(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(TEAM)
    http = httpx.Client(base_url=daemon.url, timeout=30.0)
    ops = operations(http.get("/openapi.json").json())
    assert ("POST", "/v1/agents/{agent}/ask") in ops and len(ops) >= 10
    accepted: list[str] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        op=st.sampled_from(ops),
        name=NAMES,
        body=BODIES,
        raw=st.none() | RAW,
        query=st.dictionaries(st.sampled_from(["interval", "x"]), st.text(max_size=5)),
    )
    def fuzz(op: tuple[str, str], name: str, body: Any, raw: bytes | None,
             query: dict[str, str]) -> None:  # fmt: skip
        method, template = op
        path = re.sub(r"\{[^}]+\}", lambda _: quote(name, safe="") or "x", template)
        if template.endswith("/events"):
            method, query = "GET", {"interval": "0.05"}
        kwargs: dict[str, Any] = {"params": query}
        if method == "POST":
            kwargs |= {"content": raw, "headers": {"content-type": "application/json"}} if (
                raw is not None) else {"json": body}  # fmt: skip
        # ".." can turn a path into a live stream's (/v1/console/live, which never ends): the
        # status and headers of a stream are what matter, its body is not waited for.
        with http.stream(method, path, **kwargs) as response:
            stream = response.headers.get("content-type", "").startswith("text/event-stream")
            text = "(a stream)" if stream else response.read().decode(errors="replace")[:300]
            assert response.status_code < 500, (method, path, body, raw, text)
        if response.status_code in (200, 202) and re.search(r"/(ask|tell)$", path):
            accepted.append(path)

    fuzz()
    rows = {r["name"]: r for r in http.get("/v1/actors").json()}
    assert all(r["state"] == "running" and r["failed"] == 0 for r in rows.values())
    http.close()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
    report = daemon.report()
    assert report["dead_letters"] == {"totals": {}, "letters": []}
    assert report["abandoned_asks"] == []


#: For schemathesis: agents that always answer at once, so any 5xx is the API's own.
WELL_BEHAVED = f"""
[team]
name = "fuzz-team"
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

[workflows.both]
kind = "fan_out"
tasks = [{{ id = "a", agent = "echo" }}, {{ id = "b", agent = "upper", message = "say {{input}}" }}]

[api]
port = 0
max_body_bytes = 4096
max_ask_timeout = 5
"""
SCHEMATHESIS_TOKEN = "fuzz-token-0b5e"


@pytest.mark.parametrize("token", [None, SCHEMATHESIS_TOKEN], ids=["no-token", "token"])
def test_schemathesis_all_checks_pass(
    start_daemon: StartDaemon, tmp_path: Path, token: str | None
) -> None:
    """Every phase (coverage, fuzzing, stateful) with every check; with a token, schemathesis
    also checks that each operation refuses requests without it.

    The seed is fixed so that CI is repeatable; ``LETTA_ACTORS_FUZZ_SEED=<n>`` explores others
    (``random``: a new one each run)."""
    daemon = start_daemon(WELL_BEHAVED, env={"LETTA_ACTORS_API_TOKEN": token or ""})
    command = [str(Path(sys.executable).with_name("schemathesis")), "run",
               f"{daemon.url}/openapi.json", "--checks", "all", "--max-examples", "25",
               "--generation-database", "none", "--no-color"]  # fmt: skip
    seed = os.environ.get("LETTA_ACTORS_FUZZ_SEED", "20261130")
    if seed != "random":
        command += ["--seed", seed]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout.split("SUMMARY")[-1]
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
