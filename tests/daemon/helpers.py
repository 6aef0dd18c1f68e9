"""Team files and helpers shared by the daemon tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[2]

#: Plain-Python agents only (no Letta), with a pipeline and a fan-out.
ECHO_TEAM = f"""
[team]
name = "test-team"
python_path = ["{REPO}"]
shutdown_timeout = 60

[agents.echo]
kind = "python"
factory = "tests.daemon.actors:Echo"
args = {{ prefix = "echo: " }}

[agents.upper]
kind = "python"
factory = "tests.daemon.actors:Upper"

[agents.slow]
kind = "python"
factory = "tests.daemon.actors:Slow"
args = {{ delay = 0.3 }}
mailbox = {{ capacity = 100 }}

[agents.tiny]
kind = "python"
factory = "tests.daemon.actors:Slow"
args = {{ delay = 30 }}
mailbox = {{ capacity = 1, overflow = "fail" }}
shutdown = 0.2

[agents.failing]
kind = "python"
factory = "tests.daemon.actors:Failing"

[[links]]
from = "echo"
to = "upper"

[workflows.shout]
kind = "pipeline"
description = "echo, then upper-case"
stages = [{{ name = "echo", actor = "echo" }}, {{ name = "upper", actor = "upper" }}]

[workflows.both]
kind = "fan_out"
tasks = [{{ id = "a", agent = "echo" }}, {{ id = "b", agent = "upper", message = "say {{input}}" }}]

[workflows.slowly]
kind = "pipeline"
stages = [{{ name = "one", actor = "slow" }}, {{ name = "two", actor = "slow" }}]

[api]
port = 0
max_body_bytes = 4096
max_ask_timeout = 30
"""

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | None], timeout: float = 10.0, what: str = "", interval: float = 0.02
) -> T:
    """Poll ``condition`` every ``interval`` seconds until it returns something truthy, at most
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(interval)
