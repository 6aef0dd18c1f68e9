"""The typed answer of a Letta agent actor, and how it is assembled from Letta's messages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Usage(BaseModel):
    """Token and step counts reported by Letta, summed over the rounds of one message."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    steps: int = 0


class ToolCallRecord(BaseModel):
    """One tool call of the turn: ``side`` is ``client`` (run by the actor) or ``server``."""

    model_config = ConfigDict(extra="forbid")

    tool_call_id: str
    name: str
    arguments: Any = None
    side: Literal["client", "server"] = "server"
    status: Literal["success", "error"] | None = None
    result: str | None = None


class AgentReply(BaseModel):
    """What a :class:`~letta_actors.letta.LettaAgent` answers to an ask.

    - ``text``: the assistant messages of the turn, joined by newlines.
    - ``messages``: those assistant messages one by one; ``reasoning``: reasoning messages.
    - ``tool_calls``: every tool call with its return (client-side ones run by the actor).
    - ``stop_reason``: Letta's stop reason of the last round (``end_turn``, ``max_steps``...).
    - ``usage``: tokens and steps; ``run_ids``: Letta runs involved; ``rounds``: requests made
      for this message (1 + tool rounds); ``latency``: seconds from start to answer.
    - ``otid``: the id the user message was sent with; ``recovered``: part of the answer was
      read back from the server after an ambiguous failure (usage may then be incomplete).
    """

    model_config = ConfigDict(extra="forbid")

    agent: str
    agent_id: str
    text: str = ""
    messages: list[str] = Field(default_factory=list)
    reasoning: list[str] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    stop_reason: str = "unknown"
    usage: Usage = Field(default_factory=Usage)
    run_ids: list[str] = Field(default_factory=list)
    rounds: int = 0
    latency: float = 0.0
    otid: str
    recovered: bool = False

    def __str__(self) -> str:
        return self.text


def content_text(content: Any) -> str:
    """Flatten message content to text: ``None`` (empty), a str, or a list of parts (str,
    Letta content objects with ``.text``, OpenAI ``{"type": "text", "text": ...}`` dicts) whose
    texts are joined by newlines (parts without text are skipped)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            text = part if isinstance(part, str) else getattr(part, "text", None)
            if text is None and isinstance(part, dict):
                text = part.get("text")
            if isinstance(text, str):
                parts.append(text)
        return "\n".join(parts)
    return str(content)


def parse_arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def tool_calls_of(message: Any) -> list[Any]:
    """The tool calls of a ``tool_call_message`` / ``approval_request_message``."""
    calls = getattr(message, "tool_calls", None)
    if isinstance(calls, list) and calls:
        return [c for c in calls if getattr(c, "tool_call_id", None)]
    call = getattr(message, "tool_call", None)
    return [call] if call is not None and getattr(call, "tool_call_id", None) else []


class ReplyBuilder:
    """Accumulates the rounds of one message into an :class:`AgentReply`."""

    def __init__(self, agent: str, agent_id: str, otid: str) -> None:
        self.reply = AgentReply(agent=agent, agent_id=agent_id, otid=otid)
        self._requests: dict[str, ToolCallRecord] = {}

    def _call(self, call_id: str, name: str, arguments: Any, side: str) -> ToolCallRecord:
        record = self._requests.get(call_id)
        if record is None:
            record = ToolCallRecord(
                tool_call_id=call_id,
                name=name,
                arguments=parse_arguments(arguments),
                side="client" if side == "client" else "server",
            )
            self._requests[call_id] = record
            self.reply.tool_calls.append(record)
        return record

    def add_messages(self, messages: Iterable[Any]) -> None:
        reply = self.reply
        for m in messages:
            kind = getattr(m, "message_type", None)
            run_id = getattr(m, "run_id", None)
            if isinstance(run_id, str) and run_id not in reply.run_ids:
                reply.run_ids.append(run_id)
            if kind == "assistant_message":
                reply.messages.append(content_text(getattr(m, "content", None)))
            elif kind == "reasoning_message":
                reply.reasoning.append(str(getattr(m, "reasoning", "")))
            elif kind in ("tool_call_message", "approval_request_message"):
                side = "client" if kind == "approval_request_message" else "server"
                for call in tool_calls_of(m):
                    self._call(call.tool_call_id, str(call.name), call.arguments, side)
            elif kind == "tool_return_message":
                returns = getattr(m, "tool_returns", None) or [m]
                for ret in returns:
                    call_id = getattr(ret, "tool_call_id", None)
                    if not isinstance(call_id, str):
                        continue
                    record = self._requests.get(call_id) or self._call(call_id, "?", None, "server")
                    status = getattr(ret, "status", None)
                    record.status = status if status in ("success", "error") else record.status
                    value = getattr(ret, "tool_return", None)
                    if value is None:
                        value = getattr(ret, "func_response", None)
                    record.result = content_text(value) if value is not None else record.result
        reply.text = "\n".join(t for t in reply.messages if t)

    def add_usage(self, usage: Any) -> None:
        if usage is None:
            return
        u = self.reply.usage
        u.prompt_tokens += getattr(usage, "prompt_tokens", None) or 0
        u.completion_tokens += getattr(usage, "completion_tokens", None) or 0
        u.total_tokens += getattr(usage, "total_tokens", None) or 0
        u.steps += getattr(usage, "step_count", None) or 0
        for run_id in getattr(usage, "run_ids", None) or ():
            if run_id not in self.reply.run_ids:
                self.reply.run_ids.append(run_id)

    def client_result(
        self, call_id: str, name: str, arguments: Any, status: str, text: str
    ) -> None:
        record = self._call(call_id, name, arguments, "client")
        record.side = "client"
        record.status = "success" if status == "success" else "error"
        record.result = text
