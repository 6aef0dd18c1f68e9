"""One Letta response as the agent actor reads it: messages, stop reason, pending tool calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._reply import tool_calls_of

#: Statuses of a Letta run that has ended.
TERMINAL_RUN = ("completed", "failed", "cancelled")


@dataclass
class Turn:
    """One Letta response (or the equivalent read back from the server)."""

    messages: list[Any]
    stop_reason: str
    usage: Any = None
    pending: list[Any] = field(default_factory=list)  # tool calls awaiting an answer
    recovered: bool = False

    @classmethod
    def of(cls, response: Any) -> Turn:
        stop = getattr(getattr(response, "stop_reason", None), "stop_reason", None) or "unknown"
        messages = list(response.messages)
        return cls(messages, str(stop), response.usage, unanswered(messages))

    @classmethod
    def read_back(cls, messages: list[Any], stop_reason: str) -> Turn:
        """The turn made of ``messages`` read from the server after an ambiguous failure."""
        return cls(messages, stop_reason, None, unanswered(messages), recovered=True)


def unanswered(messages: Sequence[Any]) -> list[Any]:
    """Tool calls of approval requests in ``messages`` that no later tool return answers."""
    pending: dict[str, Any] = {}
    for m in messages:
        kind = getattr(m, "message_type", None)
        if kind == "approval_request_message":
            for call in tool_calls_of(m):
                pending[call.tool_call_id] = call
        elif kind == "tool_return_message":
            for ret in getattr(m, "tool_returns", None) or [m]:
                pending.pop(getattr(ret, "tool_call_id", ""), None)
    return list(pending.values())


def infer_stop(messages: Sequence[Any]) -> str | None:
    """The stop reason ``messages`` imply (``None``: the turn is not over, as far as they tell)."""
    if unanswered(messages):
        return "requires_approval"
    kinds = [getattr(m, "message_type", None) for m in messages]
    if kinds and kinds[-1] == "assistant_message":
        return "end_turn"
    return None
