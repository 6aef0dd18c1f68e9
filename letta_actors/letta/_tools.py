"""Client-side tools: Python callables an agent's LLM may call, run by the actor.

Letta pauses the turn when the LLM calls a client-side tool (``requires_approval``); the actor
runs the tool and answers with its return. A tool that raises answers with an *error* tool
return (status ``error``) carrying readable text; the conversation goes on.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_type_hints, overload

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, create_model

if TYPE_CHECKING:
    from ._agent import LettaAgent


class ToolError(Exception):
    """Raise in a tool to answer the agent with an error tool return carrying this text."""


@dataclass(frozen=True)
class ToolContext:
    """What a tool may use: the agent actor running it and the call being answered."""

    agent: LettaAgent
    tool_call_id: str
    name: str


Handler = Callable[..., Any]


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if value is None:
        return "null"
    return json.dumps(value, default=str)


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


@dataclass
class ClientTool:
    """A client-side tool: ``name``, ``description``, JSON-schema ``parameters`` and a handler.

    The handler is called with the validated arguments as keywords, plus ``ctx``
    (:class:`ToolContext`) when ``wants_context``. It may be sync (run in a worker thread) or
    async; its return value is sent as text (str as is, pydantic models and other values as
    JSON).
    """

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler
    wants_context: bool = False
    args_model: type[BaseModel] | None = None
    is_async: bool = field(default=False)

    def __post_init__(self) -> None:
        self.is_async = inspect.iscoroutinefunction(self.handler)

    def to_letta(self) -> dict[str, Any]:
        """The ``client_tools`` entry for ``agents.messages.create``."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    async def invoke(self, ctx: ToolContext, arguments: dict[str, Any]) -> str:
        """Validate ``arguments``, call the handler, return its result as text."""
        kwargs: dict[str, Any] = dict(arguments)
        if self.args_model is not None:
            parsed = self.args_model.model_validate(arguments)
            kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        if self.wants_context:
            kwargs["ctx"] = ctx
        if self.is_async:
            result = await self.handler(**kwargs)
        else:
            result = await anyio.to_thread.run_sync(lambda: self.handler(**kwargs))
        return _json_text(result)


def tool_from_function(
    func: Handler, *, name: str | None = None, description: str | None = None
) -> ClientTool:
    """Build a :class:`ClientTool` from a function's signature (types via pydantic).

    A parameter named ``ctx`` (or annotated :class:`ToolContext`) receives the context and is
    not part of the schema. The description defaults to the docstring.
    """
    hints = get_type_hints(func)
    fields: dict[str, Any] = {}
    wants_context = False
    for pname, param in inspect.signature(func).parameters.items():
        annotation = hints.get(pname, Any)
        if pname == "ctx" or annotation is ToolContext:
            wants_context = True
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {func.__name__!r}: *args / **kwargs are not supported")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (annotation, default)
    tool_name = name or func.__name__
    model: type[BaseModel] = create_model(
        f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    schema = _strip_titles(model.model_json_schema())
    schema.setdefault("properties", {})
    doc = inspect.getdoc(func) or ""
    return ClientTool(
        name=tool_name,
        description=description or doc.split("\n\n")[0] or tool_name,
        parameters=schema,
        handler=func,
        wants_context=wants_context,
        args_model=model,
    )


@overload
def client_tool(func: Handler, /) -> ClientTool: ...
@overload
def client_tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Handler], ClientTool]: ...
def client_tool(
    func: Handler | None = None, /, *, name: str | None = None, description: str | None = None
) -> ClientTool | Callable[[Handler], ClientTool]:
    """Decorator: turn a function into a :class:`ClientTool` (``@client_tool`` or
    ``@client_tool(name=..., description=...)``); see :func:`tool_from_function`."""
    if func is not None:
        return tool_from_function(func)

    def wrap(f: Handler) -> ClientTool:
        return tool_from_function(f, name=name, description=description)

    return wrap


# -- bus tools ------------------------------------------------------------------------------

ASK_AGENT = "ask_agent"
TELL_AGENT = "tell_agent"
PUBLISH = "publish"


def answer_text(answer: Any) -> str:
    """The text an ``ask_agent`` tool returns for a peer's answer."""
    text = getattr(answer, "text", None)
    if isinstance(text, str) and getattr(answer, "stop_reason", None) is not None:
        return text or f"(no answer text; stop reason {answer.stop_reason})"
    return _json_text(answer)


async def _ask_agent(ctx: ToolContext, peer: str, message: str) -> str:
    agent = ctx.agent
    if peer not in agent.peers():
        raise ToolError(f"{peer!r} is not an agent you are linked to")
    envelope = agent.envelope
    depth = (len(envelope.chain) if envelope is not None else 0) + 1
    limit = agent.options.max_ask_depth
    if depth > limit:
        raise ToolError(
            f"refused: asking {peer!r} would nest agent calls {depth} deep (limit {limit})"
        )
    answer = await agent.ask(peer, message, timeout=agent.options.peer_ask_timeout)
    return answer_text(answer)


async def _tell_agent(ctx: ToolContext, peer: str, message: str) -> str:
    if peer not in ctx.agent.peers():
        raise ToolError(f"{peer!r} is not an agent you are linked to")
    await ctx.agent.tell(peer, message)
    return f"message sent to {peer}"


async def _publish(ctx: ToolContext, topic: str, message: str) -> str:
    if topic not in ctx.agent.options.publish_topics:
        raise ToolError(f"topic {topic!r} is not allowed")
    count = await ctx.agent.publish(topic, message)
    return f"published on {topic!r} to {count} subscriber(s)"


def _peer_schema(peers: list[str], what: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "peer": {"type": "string", "enum": peers, "description": "the agent to contact"},
            "message": {"type": "string", "description": what},
        },
        "required": ["peer", "message"],
    }


def bus_tools(peers: list[str], topics: list[str]) -> list[ClientTool]:
    """``ask_agent`` / ``tell_agent`` over ``peers`` (omitted when empty) and ``publish`` over
    ``topics`` (omitted when empty)."""
    tools: list[ClientTool] = []
    if peers:
        tools.append(
            ClientTool(
                name=ASK_AGENT,
                description="Ask another agent a question and wait for its answer "
                f"(agents you can reach: {', '.join(peers)}).",
                parameters=_peer_schema(peers, "the question or request"),
                handler=_ask_agent,
                wants_context=True,
            )
        )
        tools.append(
            ClientTool(
                name=TELL_AGENT,
                description="Send a message to another agent without waiting for an answer.",
                parameters=_peer_schema(peers, "the message"),
                handler=_tell_agent,
                wants_context=True,
            )
        )
    if topics:
        tools.append(
            ClientTool(
                name=PUBLISH,
                description="Publish a message on a topic; every subscriber receives it.",
                parameters={
                    "type": "object",
                    "properties": {
                        "topic": {"type": "string", "enum": topics},
                        "message": {"type": "string"},
                    },
                    "required": ["topic", "message"],
                },
                handler=_publish,
                wants_context=True,
            )
        )
    return tools


ToolFactory = Callable[["LettaAgent"], Awaitable[list[ClientTool]] | list[ClientTool]]
