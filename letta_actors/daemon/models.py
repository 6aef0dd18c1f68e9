"""The bodies of the HTTP API: what a request may carry and what an answer holds (pydantic
models; the OpenAPI schema is generated from them)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue


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
    message_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:-]{1,128}$",
        description="The message's id (default: a new one). Resending after a failed or "
        "unanswered tell? Give the same id: in cluster mode a durable agent's stream drops a "
        "resend of an id it stored within its duplicate window (2 minutes by default).",
    )


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
    queued: bool = Field(description="Queued in the agent's mailbox.")
    durable: bool = Field(
        default=False,
        description="True when the message was stored (the team file's [store] gives the "
        "agent a durable mailbox; in cluster mode, a JetStream stream) before this answer: it "
        "is handled even if the process is killed first. False: it lives in memory only, and "
        "is lost if the process is killed (SIGKILL) before the agent handles it.",
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
    node: str | None = Field(
        default=None, description="In cluster mode, the node this actor runs on (this one)."
    )


class ClusterStatus(BaseModel):
    """Cluster mode: who this node is, which nodes are live, who owns which agent."""

    node: str = Field(description="This node's name.")
    ready: bool = Field(description="Joined, and its first placement pass done.")
    nodes: list[str] = Field(description="The live nodes' names.")
    owners: dict[str, str | None] = Field(
        description="Every declared agent and the node that owns it (null: between owners)."
    )


class ErrorBody(BaseModel):
    error: str
    detail: Any = None
