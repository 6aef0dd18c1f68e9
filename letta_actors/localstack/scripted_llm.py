"""A deterministic, scripted OpenAI-compatible LLM server (Starlette ASGI app).

Endpoints (the OpenAI base URL is ``<root>/v1``):

* ``GET  /v1/models``            the configured model ids
* ``POST /v1/embeddings``        deterministic unit vectors (default 1536 dims,
  ``dimensions`` and ``encoding_format=base64`` honoured)
* ``POST /v1/chat/completions``  answered by the first matching :class:`Rule`
  (JSON, or SSE chunks when ``stream`` is true; ``usage`` always present)

Admin endpoints under ``/_scripted`` (JSON):

* ``GET /rules`` · ``PUT /rules`` (replace) · ``POST /rules`` (append) · ``DELETE /rules``
* ``GET /requests?limit=N&include_body=true|false``
* ``GET /stats`` · ``POST /reset?rules=true|false`` (stats + request log, optionally rules)
* ``GET /wait?in_flight_at_least=N&chat_requests_at_least=N&timeout=S`` long-polls
  until the counters reach the thresholds; answers ``{"satisfied": bool, "stats": ...}``
  (``satisfied`` false after ``timeout`` seconds, default 10).

Run it with ``python -m letta_actors.localstack.scripted_llm --port 8299``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from letta_actors.localstack import openai_format as fmt
from letta_actors.localstack.recorder import Recorder
from letta_actors.localstack.rules import (
    RULES_ADAPTER,
    ChatView,
    ErrorReply,
    RateLimitReply,
    Rule,
    RuleBook,
    TextReply,
    ToolCallsReply,
)

DEFAULT_MODEL = "scripted-model"
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
DEFAULT_EMBEDDING_DIMENSIONS = 1536
_FORBIDDEN_PREFIXES = ("o1", "o3", "o4", "gpt-5")


class ScriptedLLM:
    """The server's state: rules, recorder and configuration (one per app)."""

    def __init__(
        self,
        *,
        models: list[str] | None = None,
        rules: list[Rule] | None = None,
        embedding_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS,
        max_recorded_requests: int = 500,
    ) -> None:
        self.models = list(models or [DEFAULT_MODEL])
        for model in self.models:
            if model.startswith(_FORBIDDEN_PREFIXES):
                raise ValueError(f"model id {model!r}: Letta routes o1/o3/o4/gpt-5 elsewhere")
        self.rules = RuleBook(rules)
        self.recorder = Recorder(max_recorded_requests)
        self.embedding_dimensions = embedding_dimensions
        self._release: anyio.Event | None = None

    def release_signal(self) -> anyio.Event:
        """Set when the answers held now (``latency_seconds``) are to be released."""
        if self._release is None:
            self._release = anyio.Event()
        return self._release

    def release_held(self) -> None:
        """End every delay in progress now: those requests are answered 503 at once."""
        if self._release is not None:
            self._release.set()
            self._release = None


async def _read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except json.JSONDecodeError as exc:
        raise _BadRequest(f"invalid JSON: {exc}") from exc


class _BadRequest(Exception):
    pass


async def _delay(request: Request, seconds: float, release: anyio.Event) -> str | None:
    """Sleep ``seconds``; end early with ``"disconnected"`` if the client went away, or with
    ``"released"`` when ``release`` is set (a reset that clears the rules); None after the
    full delay."""
    ended: str | None = None
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal ended
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    ended = "disconnected"
                    tg.cancel_scope.cancel()
                    return

        async def released() -> None:
            nonlocal ended
            await release.wait()
            ended = "released"
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        tg.start_soon(released)
        await anyio.sleep(seconds)
        tg.cancel_scope.cancel()
    return ended


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(fmt.error_body(message, status), status_code=status, headers=headers)


def create_app(llm: ScriptedLLM | None = None) -> Starlette:
    """Build the ASGI app around ``llm`` (a fresh :class:`ScriptedLLM` when None).

    The state is reachable as ``app.state.llm``.
    """
    state = llm or ScriptedLLM()

    async def models(_: Request) -> Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in state.models
        ]
        return JSONResponse({"object": "list", "data": data})

    async def embeddings(request: Request) -> Response:
        try:
            body = await _read_json(request)
        except _BadRequest as exc:
            return _error(400, str(exc))
        if not isinstance(body, dict) or "input" not in body:
            return _error(400, "body must be an object with 'input'")
        rec = state.recorder.record("embeddings", body, None)
        raw = body["input"]
        inputs = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
        if inputs and all(isinstance(x, int) for x in inputs):
            inputs = [inputs]  # one tokenised input
        dims = int(body.get("dimensions") or state.embedding_dimensions)
        encoding = str(body.get("encoding_format") or "float")
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": fmt.encode_embedding(fmt.fake_embedding(str(text), dims), encoding),
            }
            for i, text in enumerate(inputs)
        ]
        tokens = sum(fmt.count_tokens(str(t)) for t in inputs)
        state.recorder.finish(rec, 200, None)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", DEFAULT_EMBEDDING_MODEL),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def chat(request: Request) -> Response:
        try:
            body = await _read_json(request)
        except _BadRequest as exc:
            return _error(400, str(exc))
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "body must be an object with a 'messages' list")
        view = ChatView.from_request(body)
        rec = state.recorder.record("chat", body, view)
        state.recorder.enter()
        try:
            rule = state.rules.pick(view)
            ended = None
            if rule.latency_seconds > 0:
                ended = await _delay(request, rule.latency_seconds, state.release_signal())
            if ended == "disconnected":
                state.recorder.finish(rec, 499, rule.name)
                return Response(status_code=499)
            response: Response
            if ended == "released":
                response = _error(503, "the held answer was released by a reset")
            else:
                response = _answer(rule, view, body, rec.number)
            state.recorder.finish(rec, response.status_code, rule.name)
            return response
        finally:
            state.recorder.leave()

    async def get_rules(_: Request) -> Response:
        snap = state.rules.snapshot()
        return JSONResponse(
            {"rules": [r.model_dump(mode="json") for r, _ in snap], "used": [n for _, n in snap]}
        )

    async def change_rules(request: Request) -> Response:
        if request.method == "DELETE":
            state.rules.clear()
            return JSONResponse({"count": 0})
        try:
            raw = await _read_json(request)
            if isinstance(raw, dict):
                raw = raw.get("rules", [raw]) if "rules" in raw else [raw]
            rules = RULES_ADAPTER.validate_python(raw)
        except _BadRequest as exc:
            return _error(400, str(exc))
        except ValidationError as exc:
            return JSONResponse({"detail": exc.errors(include_url=False)}, status_code=422)
        if request.method == "PUT":
            state.rules.set(rules)
        else:
            state.rules.append(rules)
        return JSONResponse({"count": len(state.rules.snapshot())})

    async def requests(request: Request) -> Response:
        limit_raw = request.query_params.get("limit")
        include_body = request.query_params.get("include_body", "true").lower() != "false"
        recs = state.recorder.requests(int(limit_raw) if limit_raw else None)
        exclude = None if include_body else {"body"}
        return JSONResponse([r.model_dump(mode="json", exclude=exclude) for r in recs])

    async def stats(_: Request) -> Response:
        return JSONResponse(state.recorder.stats().model_dump())

    async def reset(request: Request) -> Response:
        state.recorder.reset()
        if request.query_params.get("rules", "false").lower() == "true":
            state.rules.clear()
            state.release_held()
        return JSONResponse(state.recorder.stats().model_dump())

    async def wait(request: Request) -> Response:
        q = request.query_params
        in_flight = q.get("in_flight_at_least")
        chats = q.get("chat_requests_at_least")
        ok = await state.recorder.wait_for(
            in_flight_at_least=int(in_flight) if in_flight else None,
            chat_requests_at_least=int(chats) if chats else None,
            limit_seconds=float(q.get("timeout", "10")),
        )
        return JSONResponse({"satisfied": ok, "stats": state.recorder.stats().model_dump()})

    app = Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/_scripted/rules", get_rules, methods=["GET"]),
            Route("/_scripted/rules", change_rules, methods=["PUT", "POST", "DELETE"]),
            Route("/_scripted/requests", requests, methods=["GET"]),
            Route("/_scripted/stats", stats, methods=["GET"]),
            Route("/_scripted/reset", reset, methods=["POST"]),
            Route("/_scripted/wait", wait, methods=["GET"]),
        ]
    )
    app.state.llm = state
    return app


def _answer(rule: Rule, view: ChatView, body: dict[str, Any], number: int) -> Response:
    reply = rule.reply
    if isinstance(reply, RateLimitReply):
        return _error(429, reply.message, {"Retry-After": f"{reply.retry_after:g}"})
    if isinstance(reply, ErrorReply):
        content = (
            reply.body if reply.body is not None else fmt.error_body(reply.message, reply.status)
        )
        return JSONResponse(content, status_code=reply.status)
    model = str(body.get("model") or DEFAULT_MODEL)
    if isinstance(reply, TextReply):
        full = fmt.completion(
            model=model, view=view, text=fmt.reply_text(reply.text, view, number), tool_calls=None
        )
    else:
        assert isinstance(reply, ToolCallsReply)
        full = fmt.completion(
            model=model,
            view=view,
            text=fmt.reply_text(reply.text, view, number),
            tool_calls=fmt.render_tool_calls(reply.calls, view, number),
        )
    if view.stream:
        frames: Iterator[str] = fmt.sse_lines(full)
        return StreamingResponse(
            frames, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    return JSONResponse(full)


def load_rules(path: Path) -> list[Rule]:
    """Read a JSON file holding a list of rules (or ``{"rules": [...]}``)."""
    raw = json.loads(path.read_text())
    if isinstance(raw, dict):
        raw = raw.get("rules", [])
    return RULES_ADAPTER.validate_python(raw)


def main(argv: list[str] | None = None) -> int:
    """Serve the scripted LLM with uvicorn until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m letta_actors.localstack.scripted_llm",
        description="Serve a deterministic, scripted OpenAI-compatible LLM.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8299)
    parser.add_argument("--model", action="append", help=f"model id (default {DEFAULT_MODEL})")
    parser.add_argument("--rules", type=Path, help="JSON file with initial rules")
    parser.add_argument("--embedding-dimensions", type=int, default=DEFAULT_EMBEDDING_DIMENSIONS)
    args = parser.parse_args(argv)
    import uvicorn

    llm = ScriptedLLM(
        models=args.model,
        rules=load_rules(args.rules) if args.rules else None,
        embedding_dimensions=args.embedding_dimensions,
    )
    print(f"scripted LLM on http://{args.host}:{args.port}/v1 models={llm.models}", file=sys.stderr)
    uvicorn.run(create_app(llm), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
