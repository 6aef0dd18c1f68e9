"""A Letta request in a span (when the system has a tracer): agent, Letta run id, tokens,
retries and breaker state, and the span's ``traceparent`` header on each attempt, so a server
(or proxy) that reads it puts its own spans in the trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from letta_client import AsyncLetta

from ..actors._tracing import Tracer

if TYPE_CHECKING:
    from ._agent import LettaAgent

T = TypeVar("T")


async def traced_request(
    tracer: Tracer,
    agent: LettaAgent,
    op: Callable[[AsyncLetta], Awaitable[T]],
    what: str,
    *,
    fail_fast: bool,
    recover: Callable[[], Awaitable[Any]] | None,
) -> T:
    """``agent.connection.request(op, ...)`` in a client span named ``letta <what>``."""
    connection = agent.connection
    attributes = {
        "letta_actors.actor": agent.name,
        "letta.operation": what,
        "letta.server": connection.server,
        "server.address": connection.server,
    }
    if agent._agent_id is not None:
        attributes["letta.agent_id"] = agent._agent_id
    attempts = 0
    with tracer.span(f"letta {what}", attributes, kind="client") as span:
        headers = span.headers()

        async def attempt(client: AsyncLetta) -> T:
            nonlocal attempts
            attempts += 1
            return await op(client.with_options(default_headers=headers))

        try:
            result: T = await connection.request(
                attempt,
                stats=agent.letta_stats,
                what=f"{agent.name}: {what}",
                fail_fast=fail_fast,
                recover=recover,
            )
        finally:
            span.set("letta.retries", max(attempts - 1, 0))
            span.set("letta.breaker_state", connection.breaker.state)
        usage = getattr(result, "usage", None)
        if usage is not None:
            for key in ("prompt_tokens", "completion_tokens", "total_tokens", "step_count"):
                value = getattr(usage, key, None)
                if isinstance(value, int):
                    span.set(f"letta.usage.{key}", value)
        run_id = _run_id(result, usage)
        if run_id is not None:
            span.set("letta.run_id", run_id)
        return result


def _run_id(result: Any, usage: Any) -> str | None:
    """The Letta run behind a response: from its usage report, else from its messages."""
    run_ids = getattr(usage, "run_ids", None)
    if run_ids:
        return str(run_ids[-1])
    for message in getattr(result, "messages", None) or ():
        run_id = getattr(message, "run_id", None)
        if run_id:
            return str(run_id)
    return None
