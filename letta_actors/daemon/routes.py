"""The API's routes (FastAPI, at module level): probes, the team, asks and tells, workflow runs.

A route takes its team as a dependency (:mod:`.deps`) and raises on failure: :mod:`.answers`
turns each exception into its HTTP answer, in one table.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from ..team import NotAccepting, RunEntry, Team, TeamConfig
from .answers import AgentFailed, NoRoom, SafeJSONResponse, answered, answers_of
from .deps import TeamDep, find_run
from .middleware import AUTHENTICATED
from .models import (
    ActorStatus,
    AskRequest,
    AskResponse,
    ClusterStatus,
    ErrorBody,
    RunRequest,
    RunSummary,
    TellRequest,
    TellResponse,
)

log = logging.getLogger("letta_actors.daemon.api")

_Route = TypeVar("_Route", bound=Callable[..., Coroutine[Any, Any, Any]])

_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

#: The error answers every route with a body or a name declares.
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody},
    413: {"model": ErrorBody},
    422: {"model": ErrorBody},
    503: {"model": ErrorBody},
}


router = APIRouter()


def _accepted(path: str, tag: str, model: type[BaseModel]) -> Callable[[_Route], _Route]:
    """A POST route answering 202 (accepted) with ``model``, declaring the error answers."""
    return router.post(path, tags=[tag], status_code=202, response_model=model, responses=_ERRORS)


def _correlation(request: Request) -> str:
    given = request.headers.get("x-correlation-id", "")
    return given if _CORRELATION.match(given) else uuid.uuid4().hex


def _jsonable(value: Any) -> Any:
    """A JSON-safe form of a reply: pydantic models dumped, anything else kept if JSON can
    carry it, else its ``repr``."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _text(reply: Any) -> str | None:
    text = getattr(reply, "text", None)
    if isinstance(text, str):
        return text
    return reply if isinstance(reply, str) else None


def _workflows(config: TeamConfig) -> dict[str, Any]:
    return {
        n: {"kind": w.kind, "description": w.description, "actors": w.actors()}
        for n, w in config.workflows.items()
    }


@router.get("/healthz", tags=["probes"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "alive"}


@router.get("/readyz", tags=["probes"], responses={503: {"description": "Not ready"}})
async def readyz(request: Request, team: TeamDep) -> JSONResponse:
    """Readiness: the actors are started and running, and Letta answers. The report (Letta
    servers and agents, actors not running) only with the token, when one is set."""
    ready, report = await team.readiness()
    status = 200 if ready else 503
    if not request.scope.get(AUTHENTICATED, not request.app.state.token_required):
        return SafeJSONResponse({"ready": ready}, status_code=status)
    return SafeJSONResponse({"ready": ready, **report}, status_code=status)


@router.get("/v1/team", tags=["team"])
async def describe(team: TeamDep) -> dict[str, Any]:
    """The declared team: agents, supervisors, links, topics, workflows."""
    config = team.config
    return {
        "name": config.team.name,
        "agents": {
            n: {"kind": a.kind, "supervisor": a.supervisor, "description": a.description}
            for n, a in config.agents.items()
        },
        "supervisors": list(config.supervisors),
        "links": team.system.bus.links.as_dict() if team.started else {},
        "topics": {t: list(n) for t, n in config.topics.items()},
        "workflows": _workflows(config),
    }


@router.get("/v1/actors", tags=["team"], response_model=list[ActorStatus])
async def actors(team: TeamDep) -> list[dict[str, Any]]:
    """Every actor: state, mailbox depth and capacity, restarts, what it works on now."""
    return team.actors() if team.started else []


@router.get(
    "/v1/cluster",
    tags=["team"],
    response_model=ClusterStatus,
    responses={404: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
async def cluster(team: TeamDep) -> Any:
    """Cluster mode: this node, the live nodes and the node that owns each declared agent (404
    for a team in one process)."""
    if team.config.cluster is None:
        raise HTTPException(404, "the team runs in one process: its file has no [cluster]")
    if not team.started:
        raise NotAccepting("the team is not running")
    return await team.placement()


@router.post(
    "/v1/agents/{agent}/ask",
    tags=["messages"],
    response_model=AskResponse,
    responses={**_ERRORS, 502: {"model": ErrorBody}, 504: {"model": ErrorBody}},
)
async def ask(agent: str, body: AskRequest, request: Request, team: TeamDep) -> Any:
    """Ask an agent and wait for its reply (within ``timeout``)."""
    bound = team.config.api.max_ask_timeout
    if body.timeout is not None and body.timeout > bound:
        where = ("body", "timeout")
        raise RequestValidationError(
            [{"loc": where, "msg": f"at most {bound:g} s", "type": "less_than_equal"}]
        )
    cid, mid = _correlation(request), uuid.uuid4().hex
    # The answers' warnings name the message (see answers.Answer).
    request.state.message = extra = {"actor": agent, "message_id": mid, "correlation_id": cid}
    started = time.monotonic()
    try:
        reply = await team.ask(agent, body.message, timeout=body.timeout, message_id=mid)
    except Exception as exc:
        if answered(exc, answers_of(request)):
            raise
        raise AgentFailed(exc) from exc
    latency = time.monotonic() - started
    log.debug(
        "ask answered in %.3f s", latency, extra={**extra, "request": "ask", "latency": latency}
    )
    return AskResponse(
        agent=agent,
        message_id=mid,
        correlation_id=cid,
        reply=_jsonable(reply),
        text=_text(reply),
        latency=latency,
    )


@_accepted("/v1/agents/{agent}/tell", "messages", TellResponse)
async def tell(agent: str, body: TellRequest, request: Request, team: TeamDep) -> Any:
    """Queue a message for an agent (on any node, in cluster mode) without waiting for its
    handling. Queued means in memory unless ``durable: true`` (a ``[store]`` mailbox, or a
    JetStream stream in cluster mode): a message not yet handled is lost if the process is
    killed; a graceful stop drains it or reports it as a dead letter by ``message_id``."""
    cid, mid = _correlation(request), body.message_id or uuid.uuid4().hex
    try:
        with anyio.fail_after(team.config.api.max_ask_timeout):
            await team.tell(agent, body.message, message_id=mid)
    except TimeoutError as exc:
        raise NoRoom(*exc.args) from exc
    log.debug(
        "told",
        extra={"actor": agent, "message_id": mid, "correlation_id": cid, "request": "tell"},
    )
    return TellResponse(
        agent=agent, message_id=mid, correlation_id=cid, queued=True, durable=team.durable(agent)
    )


@router.get("/v1/workflows", tags=["workflows"])
async def workflows(team: TeamDep) -> dict[str, Any]:
    """The declared workflows."""
    return _workflows(team.config)


@_accepted("/v1/workflows/{workflow}/runs", "workflows", RunSummary)
async def start_run(workflow: str, body: RunRequest, team: TeamDep) -> Any:
    """Start a run; poll ``/v1/runs/{id}`` or stream ``/v1/runs/{id}/events``."""
    entry = team.start_run(workflow, body.input)
    return JSONResponse(
        entry.summary(), status_code=202, headers={"Location": f"/v1/runs/{entry.id}"}
    )


@router.get("/v1/runs", tags=["workflows"])
async def runs(team: TeamDep) -> list[dict[str, Any]]:
    """Every run kept (newest last), without records."""
    return [entry.row() for entry in team.runs]


@router.get("/v1/runs/{run_id}", tags=["workflows"], response_model=RunSummary, responses=_ERRORS)
async def run(run_id: str, team: TeamDep) -> Any:
    """A run: its state, and once finished its record and sequence diagram."""
    return find_run(team, run_id).summary()


@_accepted("/v1/runs/{run_id}/cancel", "workflows", RunSummary)
async def cancel(run_id: str, team: TeamDep) -> Any:
    """Cancel a run; its record (status ``cancelled``) keeps what was done."""
    entry = find_run(team, run_id)
    entry.control.cancel()
    return JSONResponse(entry.summary(), status_code=202)


@router.get("/v1/runs/{run_id}/events", tags=["workflows"], responses=_ERRORS)
async def events(
    run_id: str, team: TeamDep, interval: Annotated[float, Query(ge=0.05, le=60)] = 0.5
) -> Any:
    """Server-sent events: ``progress`` (state, elapsed, which agents work on what) every
    ``interval`` seconds, then ``record`` (the finished run) and the stream ends."""
    entry = find_run(team, run_id)
    return StreamingResponse(_stream(team, entry, interval), media_type="text/event-stream")


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _stream(team: Team, entry: RunEntry, interval: float) -> AsyncIterator[bytes]:
    while entry.state == "running":
        busy = (
            {a["name"]: a["working_on"] for a in team.actors() if a["working_on"]}
            if team.started
            else {}
        )
        summary = entry.summary()
        yield _sse(
            "progress",
            {
                "run_id": entry.id,
                "status": summary["status"],
                "elapsed": summary["elapsed"],
                "working": busy,
            },
        )
        with anyio.move_on_after(interval):
            await entry.done.wait()
    yield _sse("record", entry.summary())
