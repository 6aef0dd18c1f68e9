"""A team living inside an existing ASGI application (FastAPI here).

The application's lifespan starts the team and stops it (draining mailboxes, actors in reverse
start order); the team's Prometheus metrics are served at the application's ``/metrics``, and its
HTTP API is mounted under ``/team``. Run: ``uvicorn examples.embedded_asgi:app`` (or
``python examples/embedded_asgi.py``), then::

    curl -X POST localhost:8000/summarise -H 'content-type: application/json' -d '"some text"'
    curl localhost:8000/metrics
    curl -X POST localhost:8000/team/v1/agents/summariser/ask -d '{"message": "hi"}' \\
         -H 'content-type: application/json'

The team here is plain Python actors so it runs anywhere; a team file with Letta agents works
the same way (``load_config("team.toml")``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from letta_actors import Actor
from letta_actors.daemon import create_app
from letta_actors.daemon.api import MetricsEndpoint
from letta_actors.team import Team, parse_config


class Summariser(Actor):
    """Stands in for a Letta agent: answers with the first words of the text."""

    async def receive(self, message: Any) -> Any:
        return " ".join(str(message).split()[:5]) + " ..."


TEAM = parse_config("""
[team]
name = "embedded"
[agents.summariser]
kind = "python"
factory = "examples.embedded_asgi:Summariser"
""")

team = Team(TEAM, factories={"summariser": Summariser})


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with team:  # started with the application, stopped (drained) with it
        yield


app = FastAPI(title="my application", lifespan=lifespan)
app.add_route("/metrics", MetricsEndpoint(team), methods=["GET"])  # type: ignore[arg-type]
app.mount("/team", create_app(team))  # the team's own API (optional)


@app.post("/summarise")
async def summarise(text: str) -> dict[str, Any]:
    """The application's own endpoint, backed by the team."""
    return {"summary": await team.ask("summariser", text, timeout=30)}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
