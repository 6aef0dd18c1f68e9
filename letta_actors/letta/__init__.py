"""Letta agents as actors: :class:`LettaAgent` wraps one Letta agent (see ``docs/letta-agents.md``).

::

    from letta_actors import ActorSystem
    from letta_actors.letta import AgentSpec, LettaAgent, LettaConnection

    async with LettaConnection(base_url="http://127.0.0.1:8283") as conn:
        async with ActorSystem() as system:
            spec = AgentSpec(name="helper", model="openai/gpt-4o-mini",
                             embedding="openai/text-embedding-3-small", persona="Helpful.")
            ref = await system.spawn(LettaAgent.factory(spec, conn), name="helper")
            reply = await ref.ask("Hello!", timeout=300)
            print(reply.text, reply.usage)
"""

from ._agent import RESTART_REASON, LettaAgent
from ._config import (
    OWNER_TAG,
    AgentOptions,
    AgentSpec,
    BreakerConfig,
    ConnectionConfig,
    MemoryBlock,
    RetryPolicy,
)
from ._connection import RESEND, CircuitBreaker, LettaConnection, RateLimiter
from ._conversation import SUPERSEDED_REASON
from ._errors import (
    LettaAgentNotFound,
    LettaCircuitOpen,
    LettaError,
    LettaOutcomeUnknown,
    LettaRequestFailed,
    ToolLoopExceeded,
)
from ._metrics import METRICS as LETTA_METRICS
from ._metrics import LettaMetrics
from ._reply import AgentReply, ToolCallRecord, Usage, content_text
from ._stats import LettaStats
from ._tools import (
    ASK_AGENT,
    PUBLISH,
    TELL_AGENT,
    ClientTool,
    ToolContext,
    ToolError,
    ToolFactory,
    bus_tools,
    client_tool,
    tool_from_function,
)

__all__ = [
    "ASK_AGENT",
    "LETTA_METRICS",
    "OWNER_TAG",
    "PUBLISH",
    "RESEND",
    "RESTART_REASON",
    "SUPERSEDED_REASON",
    "TELL_AGENT",
    "AgentOptions",
    "AgentReply",
    "AgentSpec",
    "BreakerConfig",
    "CircuitBreaker",
    "ClientTool",
    "ConnectionConfig",
    "LettaAgent",
    "LettaAgentNotFound",
    "LettaCircuitOpen",
    "LettaConnection",
    "LettaError",
    "LettaMetrics",
    "LettaOutcomeUnknown",
    "LettaRequestFailed",
    "LettaStats",
    "MemoryBlock",
    "RateLimiter",
    "RetryPolicy",
    "ToolCallRecord",
    "ToolContext",
    "ToolError",
    "ToolFactory",
    "ToolLoopExceeded",
    "Usage",
    "bus_tools",
    "client_tool",
    "content_text",
    "tool_from_function",
]
