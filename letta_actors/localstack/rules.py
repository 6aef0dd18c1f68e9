"""Rules that decide what the scripted LLM answers.

A :class:`Rule` matches on a :class:`ChatView` (the parts of a chat-completion
request that matter: the first system message, the last message's role and
text) and carries a :class:`Reply`. :class:`RuleBook` evaluates rules in order;
the first rule that matches *and* is not used up wins. When none matches, the
:data:`DEFAULT_RULE` answers with text quoting the last message.

Text (and string values inside tool-call arguments) may use the placeholders
``{last_message}``, ``{last_message_text}``, ``{last_role}``,
``{last_user_message}`` and ``{request_number}``; they are substituted
literally (other braces are left alone, so JSON in text is safe).
``last_message_text`` is the last message with Letta's tool-return envelope
(``{"status": ..., "message": ...}``) unwrapped.
"""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..letta import content_text

Role = Literal["system", "user", "assistant", "tool"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextReply(_Model):
    """Answer with a plain assistant message (Letta turns it into an ``assistant_message``)."""

    kind: Literal["text"] = "text"
    text: str


class ToolCall(_Model):
    """One function call; ``arguments`` is sent JSON-encoded (a str is sent as is)."""

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = Field(default=None, description="tool_call id; generated when None")


class ToolCallsReply(_Model):
    """Answer with one or more tool calls (``finish_reason == "tool_calls"``)."""

    kind: Literal["tool_calls"] = "tool_calls"
    calls: list[ToolCall] = Field(min_length=1)
    text: str | None = Field(default=None, description="optional content sent alongside")


class ErrorReply(_Model):
    """Answer with an HTTP error; ``body`` None gives an OpenAI-style error object."""

    kind: Literal["error"] = "error"
    status: int = Field(default=500, ge=400, le=599)
    message: str = "scripted error"
    body: dict[str, Any] | None = None


class RateLimitReply(_Model):
    """Answer 429 with a ``Retry-After`` header (seconds)."""

    kind: Literal["rate_limit"] = "rate_limit"
    retry_after: float = Field(default=1.0, ge=0)
    message: str = "scripted rate limit"


Reply = Annotated[
    TextReply | ToolCallsReply | ErrorReply | RateLimitReply, Field(discriminator="kind")
]


class Rule(_Model):
    """A match condition plus a reply. All given conditions must hold (AND).

    ``*_contains`` tests are case-sensitive substring tests. ``times`` None means
    unlimited; otherwise the rule is skipped after it matched ``times`` times.
    ``latency_seconds`` delays the answer (cut short if the client disconnects; a reset that
    clears the rules ends every delay in progress with a 503, so a test leaves nothing held).
    """

    name: str | None = None
    system_contains: str | None = None
    last_message_contains: str | None = None
    last_user_message_contains: str | None = None
    last_role: Role | None = None
    any_message_contains: str | None = None
    tool_offered: str | None = Field(default=None, description="request lists this tool name")
    model: str | None = None
    times: int | None = Field(default=None, ge=1)
    latency_seconds: float = Field(default=0.0, ge=0)
    reply: Reply

    def matches(self, view: ChatView) -> bool:
        """True when every condition that is set holds for ``view``."""
        checks: list[bool] = []
        if self.system_contains is not None:
            checks.append(self.system_contains in view.system)
        if self.last_message_contains is not None:
            checks.append(self.last_message_contains in view.last_message)
        if self.last_user_message_contains is not None:
            checks.append(self.last_user_message_contains in view.last_user_message)
        if self.last_role is not None:
            checks.append(self.last_role == view.last_role)
        if self.any_message_contains is not None:
            checks.append(any(self.any_message_contains in t for t in view.all_texts))
        if self.tool_offered is not None:
            checks.append(self.tool_offered in view.tool_names)
        if self.model is not None:
            checks.append(self.model == view.model)
        return all(checks)


RULES_ADAPTER: TypeAdapter[list[Rule]] = TypeAdapter(list[Rule])

DEFAULT_RULE = Rule(name="default", reply=TextReply(text="Scripted reply to: {last_message}"))


class ChatView(_Model):
    """What rules look at in a chat-completion request."""

    model: str = ""
    system: str = ""
    last_role: str = ""
    last_message: str = ""
    last_message_text: str = Field(
        default="",
        description="last_message, unwrapped when it is Letta's JSON tool-return envelope "
        '(``{"status": ..., "message": ...}``)',
    )
    last_user_message: str = ""
    all_texts: list[str] = Field(default_factory=list)
    tool_names: list[str] = Field(default_factory=list)
    stream: bool = False

    @classmethod
    def from_request(cls, body: dict[str, Any]) -> ChatView:
        """Build the view from a ``/v1/chat/completions`` JSON body (lenient)."""
        raw_messages = body.get("messages")
        messages = [m for m in raw_messages or [] if isinstance(m, dict)]
        system = next(
            (content_text(m.get("content")) for m in messages if m.get("role") == "system"), ""
        )
        last = messages[-1] if messages else {}
        last_user = next(
            (content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
            "",
        )
        tool_names: list[str] = []
        for tool in body.get("tools") or []:
            if isinstance(tool, dict):
                fn = tool.get("function")
                if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                    tool_names.append(fn["name"])
        return cls(
            model=str(body.get("model", "")),
            system=system,
            last_role=str(last.get("role", "")),
            last_message=content_text(last.get("content")),
            last_message_text=_unwrap(content_text(last.get("content"))),
            last_user_message=last_user,
            all_texts=[content_text(m.get("content")) for m in messages],
            tool_names=tool_names,
            stream=bool(body.get("stream", False)),
        )


def _unwrap(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text
    message = data.get("message") if isinstance(data, dict) else None
    return message if isinstance(message, str) else text


def render(template: str, view: ChatView, request_number: int) -> str:
    """Substitute the placeholders documented in the module docstring."""
    return (
        template.replace("{last_message}", view.last_message)
        .replace("{last_message_text}", view.last_message_text)
        .replace("{last_user_message}", view.last_user_message)
        .replace("{last_role}", view.last_role)
        .replace("{request_number}", str(request_number))
    )


def render_value(value: Any, view: ChatView, request_number: int) -> Any:
    """Apply :func:`render` to every string inside a JSON-like value."""
    if isinstance(value, str):
        return render(value, view, request_number)
    if isinstance(value, list):
        return [render_value(v, view, request_number) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, view, request_number) for k, v in value.items()}
    return value


class RuleBook:
    """An ordered, thread-safe list of rules with per-rule use counters."""

    def __init__(self, rules: list[Rule] | None = None, default: Rule = DEFAULT_RULE) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = list(rules or [])
        self._used: list[int] = [0] * len(self._rules)
        self._default = default

    def set(self, rules: list[Rule]) -> None:
        """Replace all rules (use counters restart at zero)."""
        with self._lock:
            self._rules = list(rules)
            self._used = [0] * len(self._rules)

    def append(self, rules: list[Rule]) -> None:
        """Add rules after the existing ones (lower priority)."""
        with self._lock:
            self._rules.extend(rules)
            self._used.extend([0] * len(rules))

    def clear(self) -> None:
        """Remove all rules; only the default rule answers afterwards."""
        self.set([])

    def snapshot(self) -> list[tuple[Rule, int]]:
        """The rules with how often each was used so far."""
        with self._lock:
            return list(zip(self._rules, self._used, strict=True))

    def pick(self, view: ChatView) -> Rule:
        """Return the first matching, not used-up rule (counting the use), else the default."""
        with self._lock:
            for i, rule in enumerate(self._rules):
                if rule.times is not None and self._used[i] >= rule.times:
                    continue
                if rule.matches(view):
                    self._used[i] += 1
                    return rule
            return self._default
