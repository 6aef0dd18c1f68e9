"""The HTTP API of a running :class:`~letta_actors.team.Team` (FastAPI, OpenAPI at
``/openapi.json``).

Every error has the JSON body ``{"error": code, "detail": ...}``: a body that cannot be parsed
400, missing or wrong bearer token 401, unknown agent, workflow or run 404, body not sent in
time 408, body too large 413, invalid body 422 (a string with a lone surrogate included: it
could not be stored or answered), mailbox full, too many requests in progress, team stopping
or (cluster mode) NATS away 503 with ``Retry-After``, ask timeout 504, the agent's own failure
502. The OpenAPI schema declares all of them, the bearer scheme, and the bounds the server
enforces.

The parts: :mod:`.routes` (the routes), :mod:`.answers` (exception → HTTP answer),
:mod:`.models` (bodies), :mod:`.openapi` (the schema completed), :mod:`.middleware` (token,
body and concurrency limits), :mod:`.console` (the web console).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from ..team import Team
from .answers import ANSWERS, SafeJSONResponse, cluster_answers, exception_handlers
from .console import mount_console
from .middleware import (
    ASGIApp,
    BearerAuth,
    BodyLimit,
    ConcurrencyLimit,
    Receive,
    Scope,
    Send,
    send_json,
)
from .openapi import complete_schema
from .routes import router


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
    answers = ANSWERS if config.cluster is None else cluster_answers()
    api = FastAPI(
        title=f"letta-actors: {config.team.name}",
        version="1",
        description="Talk to a running team of actors: ask agents, run workflows, watch them.",
        default_response_class=SafeJSONResponse,
        exception_handlers=exception_handlers(answers),
    )
    api.state.team = team
    api.state.answers = answers
    api.state.token_required = token is not None
    api.include_router(router)
    metrics = Route("/metrics", MetricsEndpoint(team), methods=["GET"], include_in_schema=False)
    api.router.routes.append(metrics)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = complete_schema(FastAPI.openapi(api), bool(token), config)
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
    return mount_console(api, app)
