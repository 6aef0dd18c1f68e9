"""The console's data routes, under the API's bearer token: live snapshots and runs as
server-sent events (``text/event-stream``), and the dead letters.

Browsers' ``EventSource`` cannot send an ``Authorization`` header, so the console reads these
streams with ``fetch``; any SSE client that sends the header works too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from ...team import RunEntry, Team
from ..deps import TeamDep, find_run
from .views import dead_letters, run_view, snapshot

#: Sent instead of an unchanged snapshot, so a client (and the server) notices a dead peer.
KEEP_ALIVE = b": keep-alive\n\n"
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: Any) -> bytes:
    """One server-sent event carrying ``data`` as JSON."""
    return _event(event, json.dumps(data, default=str))


def _event(event: str, text: str) -> bytes:
    return f"event: {event}\ndata: {text}\n\n".encode()


async def live_stream(team: Team, interval: float) -> AsyncIterator[bytes]:
    """``snapshot`` events (:func:`~.views.snapshot`) whenever it changed, checked every
    ``interval`` s; once the team stops taking work, one ``stopping`` event and the end (so a
    stopping server is not held open)."""
    last = ""
    while team.accepting:
        text = json.dumps(snapshot(team), default=str)
        yield _event("snapshot", text) if text != last else KEEP_ALIVE
        last = text
        await anyio.sleep(interval)
    yield sse("stopping", {"detail": "the team is stopping"})


async def run_stream(entry: RunEntry, interval: float) -> AsyncIterator[bytes]:
    """``run`` events (:func:`~.views.run_view`: the record and diagram so far) whenever the
    run's record grew or its state changed, else ``tick`` (elapsed time) every ``interval`` s;
    the last ``run`` event is the finished run, then the stream ends."""
    seen: tuple[Any, ...] = ()
    while entry.state == "running":
        view = run_view(entry)
        record = view["record"] or {}
        mark = (view["state"], len(record.get("events", ())), json.dumps(record.get("usage")))
        if mark != seen:
            yield sse("run", view)
            seen = mark
        else:
            yield sse("tick", {"run_id": entry.id, "elapsed": view["elapsed"]})
        with anyio.move_on_after(interval):
            await entry.done.wait()
    yield sse("run", run_view(entry))


#: The routes (``/v1/console/...``) the console's pages read.
router = APIRouter(prefix="/v1/console", tags=["console"])
_INTERVAL = Query(default=1.0, ge=0.05, le=60, description="seconds between checks")


# Not in the OpenAPI schema: it never ends while the team runs, so a client driven by the
# schema (a fuzzer, a generated SDK) would wait on it forever.
@router.get("/live", include_in_schema=False)
async def live(team: TeamDep, interval: float = _INTERVAL) -> StreamingResponse:
    """Server-sent events: ``snapshot`` (actors, newest runs, dead letters) on every change,
    until the team stops (``stopping``)."""
    return StreamingResponse(
        live_stream(team, interval), media_type="text/event-stream", headers=_HEADERS
    )


@router.get("/runs/{run_id}")
async def run(run_id: str, team: TeamDep) -> Any:
    """A run with its record and sequence diagram so far (also while it runs)."""
    return run_view(find_run(team, run_id))


@router.get("/runs/{run_id}/live")
async def run_live(run_id: str, team: TeamDep, interval: float = _INTERVAL) -> Any:
    """Server-sent events: ``run`` (record and diagram so far) as the run grows, ``tick``
    in between, until the finished run."""
    return StreamingResponse(
        run_stream(find_run(team, run_id), interval),
        media_type="text/event-stream",
        headers=_HEADERS,
    )


@router.get("/dead-letters")
async def letters(team: TeamDep) -> dict[str, Any]:
    """Dead letters: totals per reason, and the newest ones."""
    return dead_letters(team)
