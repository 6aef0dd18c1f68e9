"""The HTTP API of a running :class:`~letta_actors.team.Team` (FastAPI, OpenAPI at
``/openapi.json``).

Every error has the JSON body ``{"error": code, "detail": ...}``: a body that cannot be parsed
400, missing or wrong bearer token 401, unknown agent, workflow or run 404, body not sent in
time 408, body too large 413, invalid body 422 (a string with a lone surrogate included: it
could not be stored or answered), mailbox full, too many requests in progress or team stopping
503 with ``Retry-After``, ask timeout 504, the agent's own failure 502. The OpenAPI schema
declares all of them, the bearer scheme, and the bounds the server enforces.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue
from starlette.exceptions import HTTPException
from starlette.routing import Route

from ..errors import ActorNotFound, ActorStopped, AskTimeout, MailboxFull, SystemStopped
from ..team import Abandoned, NotAccepting, RunEntry, Team, TeamConfig, UnknownName
from .console import mount_console
from .middleware import (
    AUTHENTICATED,
    OPEN_PATHS,
    ASGIApp,
    BearerAuth,
    BodyLimit,
    ConcurrencyLimit,
    Receive,
    Scope,
    Send,
    send_json,
)

log = logging.getLogger("letta_actors.daemon.api")

_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _encodable(value: JsonValue) -> JsonValue:
    """Refuses strings that UTF-8 cannot encode (lone surrogates such as ``"\\ud800"``): they
    could be neither answered nor stored. Walks the value without recursion (deep JSON)."""
    stack: list[JsonValue] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


Json = Annotated[JsonValue, AfterValidator(_encodable)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class AskRequest(_Body):
    """An ask: ``message`` (any JSON; a string for a Letta agent) and ``timeout`` (seconds,
    default the team's ``ask_timeout``, at most ``api.max_ask_timeout``)."""

    message: Json
    # Strict: a number (an integer is fine); ``true`` or ``"5"`` are refused, as ``ask`` does.
    timeout: Annotated[float, Field(gt=0, strict=True)] | None = None


class TellRequest(_Body):
    message: Json


class RunRequest(_Body):
    """A workflow run: ``input`` is the first stage's message (a fan-out's ``{input}``)."""

    input: Json


class AskResponse(BaseModel):
    agent: str
    message_id: str
    correlation_id: str
    reply: JsonValue
    text: str | None
    latency: float


class TellResponse(BaseModel):
    agent: str
    message_id: str = Field(
        description="The message's id, also in dead letters and the shutdown report."
    )
    correlation_id: str
    queued: bool = Field(description="Queued in the agent's mailbox, in memory.")
    durable: Literal[False] = Field(
        default=False,
        description="Always false: a queued message lives in memory only, and is lost if "
        "the process is killed (SIGKILL) before the agent handles it.",
    )


class RunSummary(BaseModel):
    run_id: str
    workflow: str
    state: str
    status: str
    started_at: float
    elapsed: float
    error: str | None
    record: dict[str, Any] | None
    mermaid: str | None


class ActorStatus(BaseModel):
    name: str
    kind: str
    state: str
    supervisor: str | None
    actor_class: str | None
    mailbox_depth: int
    mailbox_capacity: int
    restarts: int
    processed: int
    failed: int
    working_on: str | None


class ErrorBody(BaseModel):
    error: str
    detail: Any = None


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII characters escaped: any string, even one UTF-8 cannot encode (a lone
    surrogate in an agent's reply), gives a valid answer instead of a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def _error(status: int, code: str, detail: Any = None, **headers: str) -> JSONResponse:
    return SafeJSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


#: Error codes of the answers Starlette makes itself (unparsable body, unknown path...).
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


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


def _errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))}
        for e in exc.errors()
    ]


_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}


def _event_schema(*events: str) -> dict[str, Any]:
    """The schema of one server-sent event named one of ``events``, with JSON data (OpenAPI
    3.1: the schema of a ``text/event-stream`` answer is per event)."""
    return {
        "type": "object",
        "properties": {
            "event": {"type": "string", "enum": list(events)},
            "data": {"type": "string", "contentMediaType": "application/json"},
        },
        "required": ["event", "data"],
    }


def _document(schema: dict[str, Any], token: bool, config: TeamConfig) -> dict[str, Any]:
    """Declare in ``schema`` the answers the middleware and Starlette give (400, 401, 408,
    413, 422, 503, in the error shape), the bearer scheme, the event stream, the bound on an
    ask's ``timeout``, and the declared agent and workflow names."""
    error = {"content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    timeout = schema["components"]["schemas"]["AskRequest"]["properties"]["timeout"]
    for option in timeout["anyOf"]:
        if option.get("type") == "number":
            option["maximum"] = config.api.max_ask_timeout
    names = {"agent": list(config.agents), "workflow": list(config.workflows)}
    if token:
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "path" and names.get(parameter["name"]):
                    parameter["schema"]["enum"] = names[parameter["name"]]
            responses = operation["responses"]
            extra: dict[str, str] = {}
            if path not in OPEN_PATHS:
                extra["503"] = "Too many requests in progress, mailbox full, or stopping"
                if token:
                    extra["401"] = "Missing or wrong bearer token"
                    operation["security"] = [{"bearer": []}]
            if method == "post":
                extra |= {
                    "400": "The body could not be parsed",
                    "408": "The body did not arrive in time",
                    "413": "The body is too large",
                    "422": "Invalid request",
                }
            for status, description in extra.items():
                responses.setdefault(status, {"description": description, **error})
            if "422" in responses:
                responses["422"] = {"description": "Invalid request", **error}
            if "{run_id}" in path:
                responses.setdefault("404", {"description": "Unknown run", **error})
            if path.endswith("/events"):
                responses["200"] = {
                    "description": "Server-sent events: progress, then the record",
                    "content": {
                        "text/event-stream": {"schema": _event_schema("progress", "record")}
                    },
                }
            elif path.endswith("/live"):  # the console's run stream
                responses["200"] = {
                    "description": "Server-sent events: the run as it grows, until it ends",
                    "content": {"text/event-stream": {"schema": _event_schema("run", "tick")}},
                }
    return schema


class MetricsEndpoint:
    """ASGI app serving the team's ``/metrics`` once it has started (503 before)."""

    def __init__(self, team: Team) -> None:
        self.team = team
        self._app: tuple[object, ASGIApp] | None = None  # per metrics object (per start)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.team.metrics
        if metrics is None or not self.team.started:
            await send_json(send, 503, {"error": "not_started", "detail": "no metrics yet"})
            return
        if self._app is None or self._app[0] is not metrics:
            self._app = (metrics, metrics.asgi_app())
        await self._app[1](scope, receive, send)


def create_app(team: Team, *, token: str | None = None) -> ASGIApp:
    """The API of ``team`` (which the caller starts and stops), wrapped in the body limit and,
    when ``token`` is given, the bearer-token check."""
    config = team.config
    api = FastAPI(
        title=f"letta-actors: {config.team.name}",
        version="1",
        description="Talk to a running team of actors: ask agents, run workflows, watch them.",
        default_response_class=SafeJSONResponse,
    )
    retry_after = str(config.api.retry_after)
    errors: dict[int | str, dict[str, Any]] = {
        404: {"model": ErrorBody},
        413: {"model": ErrorBody},
        422: {"model": ErrorBody},
        503: {"model": ErrorBody},
    }

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", _errors(exc))

    @api.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return _error(exc.status_code, code, exc.detail, **(exc.headers or {}))

    @api.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("request failed: %s", type(exc).__name__, exc_info=exc)
        return _error(500, "internal_error", type(exc).__name__)

    def correlation(request: Request) -> str:
        given = request.headers.get("x-correlation-id", "")
        return given if _CORRELATION.match(given) else uuid.uuid4().hex

    def stopping() -> JSONResponse:
        team.refused_at_stop += 1
        return _error(503, "shutting_down", "the team is stopping", **{"Retry-After": retry_after})

    @api.get("/healthz", tags=["probes"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "alive"}

    @api.get("/readyz", tags=["probes"], responses={503: {"description": "Not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: the actors are started and running, and Letta answers. The report (Letta
        servers and agents, actors not running) only with the token, when one is set."""
        ready, report = await team.readiness()
        status = 200 if ready else 503
        if not request.scope.get(AUTHENTICATED, token is None):
            return SafeJSONResponse({"ready": ready}, status_code=status)
        return SafeJSONResponse({"ready": ready, **report}, status_code=status)

    @api.get("/v1/team", tags=["team"])
    async def describe() -> dict[str, Any]:
        """The declared team: agents, supervisors, links, topics, workflows."""
        return {
            "name": config.team.name,
            "agents": {
                n: {"kind": a.kind, "supervisor": a.supervisor, "description": a.description}
                for n, a in config.agents.items()
            },
            "supervisors": list(config.supervisors),
            "links": team.system.bus.links.as_dict() if team.started else {},
            "topics": {t: list(n) for t, n in config.topics.items()},
            "workflows": {
                n: {"kind": w.kind, "description": w.description, "actors": w.actors()}
                for n, w in config.workflows.items()
            },
        }

    @api.get("/v1/actors", tags=["team"], response_model=list[ActorStatus])
    async def actors() -> list[dict[str, Any]]:
        """Every actor: state, mailbox depth and capacity, restarts, what it works on now."""
        return team.actors() if team.started else []

    @api.post(
        "/v1/agents/{agent}/ask",
        tags=["messages"],
        response_model=AskResponse,
        responses={**errors, 502: {"model": ErrorBody}, 504: {"model": ErrorBody}},
    )
    async def ask(agent: str, body: AskRequest, request: Request) -> Any:
        """Ask an agent and wait for its reply (within ``timeout``)."""
        if body.timeout is not None and body.timeout > config.api.max_ask_timeout:
            detail = [
                {
                    "loc": ["body", "timeout"],
                    "type": "less_than_equal",
                    "msg": f"at most {config.api.max_ask_timeout:g} s",
                }
            ]
            return _error(422, "invalid_request", detail)
        cid, mid = correlation(request), uuid.uuid4().hex
        extra = {"actor": agent, "message_id": mid, "correlation_id": cid}
        started = time.monotonic()
        try:
            reply = await team.ask(agent, body.message, timeout=body.timeout, message_id=mid)
        except UnknownName as exc:
            return _error(404, "unknown_agent", str(exc))
        except (NotAccepting, ActorStopped, SystemStopped):
            return stopping()
        except Abandoned as exc:
            log.warning("ask abandoned at the stop deadline", extra=extra)
            return _error(503, "shutting_down", str(exc), **{"Retry-After": retry_after})
        except ActorNotFound as exc:
            return _error(404, "unknown_agent", str(exc))
        except MailboxFull as exc:
            log.warning("mailbox full", extra=extra)
            return _error(503, "mailbox_full", str(exc), **{"Retry-After": retry_after})
        except AskTimeout as exc:
            log.warning("ask timed out", extra=extra)
            return _error(504, "timeout", str(exc))
        except Exception as exc:
            log.warning("agent failed: %s", type(exc).__name__, extra=extra)
            return _error(502, "agent_failed", f"{type(exc).__name__}: {exc}")
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

    @api.post(
        "/v1/agents/{agent}/tell",
        tags=["messages"],
        status_code=202,
        response_model=TellResponse,
        responses=errors,
    )
    async def tell(agent: str, body: TellRequest, request: Request) -> Any:
        """Queue a message for an agent without waiting for its handling. Queued means in
        memory (``durable: false``): a message not yet handled is lost if the process is
        killed; a graceful stop drains it or reports it as a dead letter by ``message_id``."""
        cid, mid = correlation(request), uuid.uuid4().hex
        try:
            with anyio.fail_after(config.api.max_ask_timeout):
                await team.tell(agent, body.message, message_id=mid)
        except UnknownName as exc:
            return _error(404, "unknown_agent", str(exc))
        except (NotAccepting, ActorStopped, SystemStopped):
            return stopping()
        except ActorNotFound as exc:
            return _error(404, "unknown_agent", str(exc))
        except (MailboxFull, TimeoutError) as exc:
            return _error(503, "mailbox_full", str(exc), **{"Retry-After": retry_after})
        log.debug(
            "told",
            extra={"actor": agent, "message_id": mid, "correlation_id": cid, "request": "tell"},
        )
        return TellResponse(agent=agent, message_id=mid, correlation_id=cid, queued=True)

    @api.get("/v1/workflows", tags=["workflows"])
    async def workflows() -> dict[str, Any]:
        """The declared workflows."""
        return {
            n: {"kind": w.kind, "description": w.description, "actors": w.actors()}
            for n, w in config.workflows.items()
        }

    @api.post(
        "/v1/workflows/{workflow}/runs",
        tags=["workflows"],
        status_code=202,
        response_model=RunSummary,
        responses=errors,
    )
    async def start_run(workflow: str, body: RunRequest) -> Any:
        """Start a run; poll ``/v1/runs/{id}`` or stream ``/v1/runs/{id}/events``."""
        try:
            entry = team.start_run(workflow, body.input)
        except UnknownName as exc:
            return _error(404, "unknown_workflow", str(exc))
        except NotAccepting:
            return stopping()
        return JSONResponse(
            entry.summary(), status_code=202, headers={"Location": f"/v1/runs/{entry.id}"}
        )

    def find(run_id: str) -> RunEntry | JSONResponse:
        entry = team.runs.get(run_id)
        return entry if entry is not None else _error(404, "unknown_run", run_id)

    @api.get("/v1/runs", tags=["workflows"])
    async def runs() -> list[dict[str, Any]]:
        """Every run kept (newest last), without records."""
        return [
            {k: v for k, v in r.summary().items() if k not in ("record", "mermaid")}
            for r in team.runs
        ]

    @api.get("/v1/runs/{run_id}", tags=["workflows"], response_model=RunSummary, responses=errors)
    async def run(run_id: str) -> Any:
        """A run: its state, and once finished its record and sequence diagram."""
        entry = find(run_id)
        return entry if isinstance(entry, JSONResponse) else entry.summary()

    @api.post(
        "/v1/runs/{run_id}/cancel",
        tags=["workflows"],
        status_code=202,
        response_model=RunSummary,
        responses=errors,
    )
    async def cancel(run_id: str) -> Any:
        """Cancel a run; its record (status ``cancelled``) keeps what was done."""
        entry = find(run_id)
        if isinstance(entry, JSONResponse):
            return entry
        entry.control.cancel()
        return JSONResponse(entry.summary(), status_code=202)

    @api.get("/v1/runs/{run_id}/events", tags=["workflows"], responses=errors)
    async def events(run_id: str, interval: Annotated[float, Query(ge=0.05, le=60)] = 0.5) -> Any:
        """Server-sent events: ``progress`` (state, elapsed, which agents work on what) every
        ``interval`` seconds, then ``record`` (the finished run) and the stream ends."""
        entry = find(run_id)
        if isinstance(entry, JSONResponse):
            return entry
        return StreamingResponse(_stream(team, entry, interval), media_type="text/event-stream")

    metrics = Route("/metrics", MetricsEndpoint(team), methods=["GET"], include_in_schema=False)
    api.router.routes.append(metrics)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = FastAPI.openapi(api)
            api.openapi_schema = _document(schema, bool(token), config)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    limits = config.api
    app: ASGIApp = BodyLimit(api, limits.max_body_bytes, limits.body_timeout)
    app = ConcurrencyLimit(app, limits.max_concurrent_requests, limits.retry_after)
    # The token is checked first: nothing of an unauthenticated request's body is read.
    if token:
        app = BearerAuth(app, token)
    # The web console: its static pages at /ui in front (no data, no token), its data routes
    # (/v1/console/...) in the API behind the token.
    return mount_console(api, app, team)


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _stream(team: Team, entry: RunEntry, interval: float) -> AsyncIterator[bytes]:
    while entry.state == "running":
        busy = (
            {a["name"]: a["working_on"] for a in team.actors() if a["working_on"]}
            if (team.started)
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
