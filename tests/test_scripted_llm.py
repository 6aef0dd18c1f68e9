"""Unit tests of the scripted LLM: rules engine and ASGI app (asyncio and trio)."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from letta_actors.localstack import (
    AsyncScriptedLLMAdmin,
    ChatView,
    ErrorReply,
    RateLimitReply,
    Rule,
    RuleBook,
    TextReply,
    ToolCall,
    ToolCallsReply,
)
from letta_actors.localstack.scripted_llm import ScriptedLLM, create_app

pytestmark = pytest.mark.anyio


ROOT = "http://scripted.test"


@pytest.fixture
async def llm() -> AsyncIterator[tuple[httpx.AsyncClient, AsyncScriptedLLMAdmin, ScriptedLLM]]:
    state = ScriptedLLM()
    transport = httpx.ASGITransport(app=create_app(state))
    async with (
        httpx.AsyncClient(transport=transport, base_url=ROOT) as http,
        AsyncScriptedLLMAdmin(ROOT, transport=transport) as admin,
    ):
        yield http, admin, state


LLM = tuple[httpx.AsyncClient, AsyncScriptedLLMAdmin, ScriptedLLM]


def chat_body(
    last: str, *, role: str = "user", system: str = "You are agent A.", stream: bool = False
) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": "earlier"},
    ]
    if role == "tool":
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": "c1", "content": last})
    else:
        messages.append({"role": role, "content": [{"type": "text", "text": last}]})
    return {
        "model": "scripted-model",
        "messages": messages,
        "stream": stream,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    }


# -- rules engine (pure) -------------------------------------------------------


def test_view_and_rule_matching() -> None:
    view = ChatView.from_request(chat_body("hello world", system="SYS-1"))
    assert (view.system, view.last_role, view.last_message) == ("SYS-1", "user", "hello world")
    assert view.tool_names == ["f"]
    rule = Rule(system_contains="SYS-1", last_role="user", reply=TextReply(text="x"))
    assert rule.matches(view)
    assert not rule.model_copy(update={"last_role": "tool"}).matches(view)
    assert not rule.model_copy(update={"last_message_contains": "bye"}).matches(view)


def test_rulebook_first_match_times_and_default() -> None:
    book = RuleBook(
        [
            Rule(name="once", last_message_contains="hi", times=1, reply=TextReply(text="1")),
            Rule(name="always", last_message_contains="hi", reply=TextReply(text="2")),
        ]
    )
    view = ChatView.from_request(chat_body("hi"))
    assert [book.pick(view).name for _ in range(3)] == ["once", "always", "always"]
    assert book.pick(ChatView.from_request(chat_body("other"))).name == "default"
    assert [used for _, used in book.snapshot()] == [1, 2]


def test_tool_return_envelope_is_unwrapped() -> None:
    envelope = json.dumps({"status": "OK", "message": "sunny", "time": "now"})
    view = ChatView.from_request(chat_body(envelope, role="tool"))
    assert view.last_role == "tool"
    assert view.last_message_text == "sunny"
    assert view.last_user_message == "earlier"


def test_rules_are_json_round_trippable() -> None:
    rule = Rule(
        last_role="tool",
        latency_seconds=0.5,
        reply=ToolCallsReply(calls=[ToolCall(name="t", arguments={"a": 1})]),
    )
    assert Rule.model_validate_json(rule.model_dump_json()) == rule


# -- the ASGI app ----------------------------------------------------------------


async def test_models_and_default_echo(llm: LLM) -> None:
    http, _, _ = llm
    models = (await http.get("/v1/models")).json()
    assert [m["id"] for m in models["data"]] == ["scripted-model"]
    resp = await http.post("/v1/chat/completions", json=chat_body("ping 42"))
    data = resp.json()
    assert data["choices"][0]["message"]["content"] == "Scripted reply to: ping 42"
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["total_tokens"] > 0


async def test_templated_text_and_several_tool_calls(llm: LLM) -> None:
    http, admin, _ = llm
    await admin.set_rules(
        [
            Rule(
                last_role="user",
                reply=ToolCallsReply(
                    calls=[
                        ToolCall(name="f", arguments={"q": "{last_message}"}),
                        ToolCall(name="g", arguments='{"raw": true}', id="call_fixed"),
                    ]
                ),
            ),
            Rule(last_role="tool", reply=TextReply(text="got <{last_message_text}>")),
        ]
    )
    data = (await http.post("/v1/chat/completions", json=chat_body("find x"))).json()
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    calls = choice["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["f", "g"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"q": "find x"}
    assert calls[1]["id"] == "call_fixed"
    envelope = json.dumps({"status": "OK", "message": "42"})
    data = (await http.post("/v1/chat/completions", json=chat_body(envelope, role="tool"))).json()
    assert data["choices"][0]["message"]["content"] == "got <42>"


async def test_rate_limit_and_server_error(llm: LLM) -> None:
    http, admin, _ = llm
    await admin.set_rules(
        [
            Rule(times=1, reply=RateLimitReply(retry_after=3)),
            Rule(times=1, reply=ErrorReply(status=500, message="boom")),
        ]
    )
    first = await http.post("/v1/chat/completions", json=chat_body("a"))
    assert first.status_code == 429
    assert first.headers["retry-after"] == "3"
    second = await http.post("/v1/chat/completions", json=chat_body("a"))
    assert second.status_code == 500
    assert second.json()["error"]["message"] == "boom"
    third = await http.post("/v1/chat/completions", json=chat_body("a"))
    assert third.status_code == 200
    stats = await admin.stats()
    assert (stats.chat_requests, stats.error_responses) == (3, 2)


async def test_streaming_format(llm: LLM) -> None:
    http, admin, _ = llm
    await admin.set_rules(
        [
            Rule(
                last_message_contains="tool",
                reply=ToolCallsReply(calls=[ToolCall(name="f", arguments={"x": 1})]),
            )
        ]
    )
    resp = await http.post("/v1/chat/completions", json=chat_body("one two three", stream=True))
    assert resp.headers["content-type"].startswith("text/event-stream")
    frames = [ln[len("data: ") :] for ln in resp.text.split("\n\n") if ln]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Scripted reply to: one two three"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] > 0

    resp = await http.post("/v1/chat/completions", json=chat_body("use tool", stream=True))
    chunks = [json.loads(f[6:]) for f in resp.text.split("\n\n") if f and f != "data: [DONE]"]
    deltas = [
        d for c in chunks if c["choices"] for d in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert deltas[0]["function"]["name"] == "f"
    assert json.loads("".join(d["function"]["arguments"] for d in deltas)) == {"x": 1}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert (await admin.stats()).streamed_requests == 2


async def test_latency_and_peak_concurrency(llm: LLM) -> None:
    http, admin, _ = llm
    await admin.set_rules([Rule(latency_seconds=0.3, reply=TextReply(text="slow"))])
    results: list[int] = []

    async def one() -> None:
        resp = await http.post("/v1/chat/completions", json=chat_body("x"))
        results.append(resp.status_code)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(one)
            waited = await admin.wait(in_flight_at_least=3, wait_seconds=5)
            assert waited.satisfied
    assert results == [200, 200, 200]
    stats = await admin.stats()
    assert (stats.peak_in_flight, stats.in_flight) == (3, 0)
    await admin.reset()
    assert (await admin.stats()).peak_in_flight == 0


async def test_a_reset_that_clears_the_rules_releases_held_answers(llm: LLM) -> None:
    http, admin, _ = llm
    await admin.set_rules([Rule(latency_seconds=300, reply=TextReply(text="held"))])
    answers: list[httpx.Response] = []

    async def one() -> None:
        answers.append(await http.post("/v1/chat/completions", json=chat_body("x")))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            assert (await admin.wait(in_flight_at_least=1, wait_seconds=5)).satisfied
            await admin.reset()  # the counters only: the answer stays held
            assert (await admin.stats()).in_flight == 1
            await admin.reset(rules=True)
    (answer,) = answers
    assert answer.status_code == 503 and "released by a reset" in answer.text
    assert (await admin.stats()).in_flight == 0


async def test_wait_times_out(llm: LLM) -> None:
    _, admin, _ = llm
    result = await admin.wait(chat_requests_at_least=1, wait_seconds=0.05)
    assert not result.satisfied


async def test_embeddings_float_and_base64(llm: LLM) -> None:
    http, admin, _ = llm
    body = {"model": "text-embedding-3-small", "input": ["a", "b"]}
    data = (await http.post("/v1/embeddings", json=body)).json()
    vectors = [d["embedding"] for d in data["data"]]
    assert [len(v) for v in vectors] == [1536, 1536]
    assert vectors[0] != vectors[1]
    again = (await http.post("/v1/embeddings", json={**body, "encoding_format": "base64"})).json()
    raw = base64.b64decode(again["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(vectors[0], abs=1e-6)
    small = (await http.post("/v1/embeddings", json={"input": "a", "dimensions": 8})).json()
    assert len(small["data"][0]["embedding"]) == 8
    assert (await admin.stats()).embedding_requests == 3


async def test_admin_rules_requests_and_reset(llm: LLM) -> None:
    http, admin, _ = llm
    await admin.set_rules(Rule(name="r1", reply=TextReply(text="1")))
    await admin.add_rules([Rule(name="r2", reply=TextReply(text="2"))])
    state = await admin.rules()
    assert [r.name for r in state.rules] == ["r1", "r2"]
    await http.post("/v1/chat/completions", json=chat_body("hello", system="SYS-X"))
    recorded = await admin.requests()
    assert recorded[-1].rule == "r1"
    assert recorded[-1].status == 200
    assert recorded[-1].view is not None
    assert recorded[-1].view.system == "SYS-X"
    assert recorded[-1].body["model"] == "scripted-model"
    assert (await admin.requests(include_body=False))[-1].body == {}
    bad = await http.put("/_scripted/rules", json=[{"reply": {"kind": "nope"}}])
    assert bad.status_code == 422
    await admin.reset(rules=True)
    assert (await admin.rules()).rules == []
    assert await admin.requests() == []


async def test_bad_requests(llm: LLM) -> None:
    http, _, _ = llm
    assert (await http.post("/v1/chat/completions", content=b"{nope")).status_code == 400
    assert (await http.post("/v1/chat/completions", json={"x": 1})).status_code == 400


def test_forbidden_model_prefix() -> None:
    with pytest.raises(ValueError, match="o1"):
        ScriptedLLM(models=["o1-mini"])
