"""How the HTTP API answers what goes wrong: one table from exception type to HTTP answer.

The routes raise (the team's errors, the runtime's, and the three of this module); the
handlers of :func:`exception_handlers` answer with the body ``{"error": code, "detail": ...}``
(:class:`~.models.ErrorBody`), as :data:`ANSWERS` says (:func:`cluster_answers` in cluster
mode). Requests FastAPI refuses (invalid body: 422 ``invalid_request``; unknown path, method:
404, 405) answer in the same shape; any other exception is a 500 ``internal_error``, logged
with its traceback.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ..errors import ActorNotFound, ActorStopped, AskTimeout, MailboxFull, SystemStopped
from ..team import Abandoned, NotAccepting, Team, UnknownAgent, UnknownWorkflow

log = logging.getLogger("letta_actors.daemon.api")


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII characters escaped: any string, even one UTF-8 cannot encode (a lone
    surrogate in an agent's reply), gives a valid answer instead of a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def error_response(status: int, code: str, detail: Any = None, **headers: str) -> JSONResponse:
    """An answer in the API's error shape."""
    return SafeJSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


class UnknownRun(LookupError):
    """No run of that id is kept (the id is the detail)."""


class AgentFailed(Exception):
    """The agent failed the ask itself: its exception is the cause (``Type: text`` the detail)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.kind = type(cause).__name__


class NoRoom(Exception):
    """A tell found no room in the agent's mailbox within ``api.max_ask_timeout``."""


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer to an exception: ``status`` and error ``code``; the detail is the
    exception's text unless ``detail`` fixes it. ``retry``: with ``Retry-After`` (the team's
    ``api.retry_after``). ``warning``: logged, with the message's ids, when the route named
    the message it handles (an ask); ``{kind}`` in it is :attr:`AgentFailed.kind`.
    ``refused``: counted in the team's ``refused_at_stop`` (the shutdown report)."""

    status: int
    code: str
    detail: str | None = None
    retry: bool = False
    warning: str | None = None
    refused: bool = False


_STOPPING = Answer(503, "shutting_down", "the team is stopping", retry=True, refused=True)

#: What each exception answers; a subclass answers as its nearest base listed here.
ANSWERS: dict[type[Exception], Answer] = {
    UnknownAgent: Answer(404, "unknown_agent"),
    ActorNotFound: Answer(404, "unknown_agent"),
    UnknownWorkflow: Answer(404, "unknown_workflow"),
    UnknownRun: Answer(404, "unknown_run"),
    NotAccepting: _STOPPING,
    ActorStopped: _STOPPING,
    SystemStopped: _STOPPING,
    Abandoned: Answer(
        503, "shutting_down", retry=True, warning="ask abandoned at the stop deadline"
    ),
    MailboxFull: Answer(503, "mailbox_full", retry=True, warning="mailbox full"),
    NoRoom: Answer(503, "mailbox_full", retry=True),
    AskTimeout: Answer(504, "timeout", warning="ask timed out"),
    AgentFailed: Answer(502, "agent_failed", warning="agent failed: {kind}"),
}

#: Error codes of the answers Starlette makes itself (unparsable body, unknown path...).
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


Answers = Mapping[type[Exception], Answer]


def cluster_answers() -> dict[type[Exception], Answer]:
    """:data:`ANSWERS` and cluster mode's errors (imported now: the ``cluster`` extra): NATS
    away 503 with ``Retry-After``, a message over NATS's ``max_payload`` 413."""
    from ..cluster import ClusterUnavailable, PayloadTooLarge

    return {
        **ANSWERS,
        ClusterUnavailable: Answer(
            503, "cluster_unavailable", retry=True, warning="cluster unavailable"
        ),
        PayloadTooLarge: Answer(413, "body_too_large"),
    }


def answers_of(request: Request) -> Answers:
    """The answers of the app serving ``request`` (:func:`exception_handlers`)."""
    answers: Answers = request.app.state.answers
    return answers


def answered(exc: BaseException, answers: Answers = ANSWERS) -> bool:
    """Whether ``answers`` has an answer for ``exc``."""
    return isinstance(exc, tuple(answers))


async def _answer(request: Request, exc: Exception) -> Response:
    answers = answers_of(request)
    answer = next(answers[kind] for kind in type(exc).__mro__ if kind in answers)
    team: Team = request.app.state.team
    if answer.refused:
        team.refused_at_stop += 1
    message = getattr(request.state, "message", None)
    if answer.warning is not None and message is not None:
        log.warning(answer.warning.format(kind=getattr(exc, "kind", "")), extra=message)
    headers = {"Retry-After": str(team.config.api.retry_after)} if answer.retry else {}
    detail = answer.detail if answer.detail is not None else str(exc)
    return error_response(answer.status, answer.code, detail, **headers)


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))}
        for e in exc.errors()
    ]
    return error_response(422, "invalid_request", errors)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return error_response(exc.status_code, code, exc.detail, **(exc.headers or {}))


async def _internal(request: Request, exc: Exception) -> Response:
    log.error("request failed: %s", type(exc).__name__, exc_info=exc)
    return error_response(500, "internal_error", type(exc).__name__)


Handler = Callable[[Request, Any], Coroutine[Any, Any, Response]]


def exception_handlers(answers: Answers = ANSWERS) -> dict[int | type[Exception], Handler]:
    """The handlers for ``FastAPI(exception_handlers=...)``: ``answers`` (kept in the app's
    ``state.answers``), invalid requests, Starlette's own answers, and the 500 for anything
    else."""
    handlers: dict[int | type[Exception], Handler] = dict.fromkeys(answers, _answer)
    handlers[RequestValidationError] = _invalid
    handlers[HTTPException] = _http_error
    handlers[Exception] = _internal
    return handlers
