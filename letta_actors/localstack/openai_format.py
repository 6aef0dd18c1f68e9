"""OpenAI wire formats produced by the scripted LLM (pure functions, no I/O).

Token counts are rough (whitespace-separated words) but always present, since
clients such as Letta read ``usage`` from every answer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

from letta_actors.localstack.rules import ChatView, ToolCall, render, render_value


def count_tokens(text: str) -> int:
    """A crude, deterministic token estimate (at least 1 for non-empty text)."""
    return max(1, len(text.split())) if text else 0


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def prompt_tokens(view: ChatView) -> int:
    return sum(count_tokens(t) for t in view.all_texts)


def render_tool_calls(
    calls: list[ToolCall], view: ChatView, request_number: int
) -> list[dict[str, Any]]:
    """Tool calls in the ``message.tool_calls`` form, arguments JSON-encoded."""
    out: list[dict[str, Any]] = []
    for call in calls:
        args = render_value(call.arguments, view, request_number)
        out.append(
            {
                "id": call.id or f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
        )
    return out


def completion(
    *,
    model: str,
    view: ChatView,
    text: str | None,
    tool_calls: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    completion_tokens = count_tokens(text or "") + sum(
        count_tokens(c["function"]["arguments"]) + 1 for c in tool_calls or []
    )
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": usage(prompt_tokens(view), completion_tokens),
    }


def _chunk(cid: str, model: str, created: int, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }


def stream_chunks(full: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Split a ``chat.completion`` into ``chat.completion.chunk`` objects.

    Order: a role chunk, content in word pieces, each tool call as a header
    chunk (id, name) plus an arguments chunk, a chunk with ``finish_reason``,
    and a final chunk with empty ``choices`` and ``usage``.
    """
    cid, model, created = full["id"], full["model"], full["created"]
    choice = full["choices"][0]
    message = choice["message"]

    def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return _chunk(
            cid,
            model,
            created,
            [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}],
        )

    yield delta({"role": "assistant", "content": ""})
    text = message.get("content") or ""
    pieces = text.split(" ")
    for i, piece in enumerate(pieces):
        if piece or i == 0:
            yield delta({"content": piece if i == 0 else " " + piece})
    for index, call in enumerate(message.get("tool_calls") or []):
        header = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        yield delta({"tool_calls": [header]})
        args = {"index": index, "function": {"arguments": call["function"]["arguments"]}}
        yield delta({"tool_calls": [args]})
    yield delta({}, choice["finish_reason"])
    final = _chunk(cid, model, created, [])
    final["usage"] = full["usage"]
    yield final


def sse_lines(full: dict[str, Any]) -> Iterator[str]:
    """Server-sent-event frames for :func:`stream_chunks`, ending with ``[DONE]``."""
    for chunk in stream_chunks(full):
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"


def error_body(message: str, status: int) -> dict[str, Any]:
    """An OpenAI-style error object."""
    kind = "rate_limit_error" if status == 429 else "server_error"
    if 400 <= status < 500 and status != 429:
        kind = "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector seeded by the SHA-256 of ``text``."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        for i in range(0, len(digest), 4):
            (n,) = struct.unpack("<I", digest[i : i + 4])
            values.append(n / 0xFFFFFFFF * 2.0 - 1.0)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def encode_embedding(vector: list[float], encoding_format: str) -> list[float] | str:
    """``float`` gives the list; ``base64`` gives little-endian float32 bytes, base64-encoded."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def reply_text(template: str | None, view: ChatView, request_number: int) -> str | None:
    return None if template is None else render(template, view, request_number)
