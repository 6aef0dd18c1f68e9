"""The embedding examples run: a team in an ASGI app's lifespan, and in a Trio program."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import httpx
import pytest

from .helpers import REPO

pytestmark = pytest.mark.anyio


def _example(name: str) -> Any:
    """Load an example by file (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_team_inside_an_asgi_application() -> None:
    example = _example("embedded_asgi")
    app, team = example.app, example.team

    async with app.router.lifespan_context(app):
        assert team.started
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            answer = await client.post("/summarise", params={"text": "one two three four five six"})
            assert answer.json() == {"summary": "one two three four five ..."}
            metrics = await client.get("/metrics")
            assert 'letta_actors_messages_processed_total{actor="summariser",outcome="ok"} 1' in (
                metrics.text
            )
            mounted = await client.post("/team/v1/agents/summariser/ask", json={"message": "a b"})
            assert mounted.json()["reply"] == "a b ..."
    assert not team.started


def test_team_inside_a_trio_program() -> None:
    result = subprocess.run(
        [sys.executable, "examples/embedded_trio.py"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "oirt olleh" in result.stdout and "completed round trip" in result.stdout


def test_team_is_found_where_an_embedder_looks() -> None:
    # `import letta_actors` stays light: the team layer (Letta, patterns) loads on first use.
    script = (
        "import sys, letta_actors\n"
        "assert 'letta_actors.team' not in sys.modules\n"
        "from letta_actors import Team\n"
        "import letta_actors.daemon, letta_actors.team\n"
        "assert Team is letta_actors.team.Team is letta_actors.daemon.Team\n"
        "assert letta_actors.daemon.parse_config is letta_actors.team.parse_config\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
