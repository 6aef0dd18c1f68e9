"""The local stack: a scripted OpenAI-compatible LLM and a real Letta server.

Everything here imports without starlette/uvicorn, except ``create_app`` and
``ScriptedLLM``, which are loaded from :mod:`.scripted_llm` on first access.
See ``docs/local-stack.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from letta_actors.localstack.admin_client import (
    AsyncScriptedLLMAdmin,
    RulesState,
    ScriptedLLMAdmin,
    WaitResult,
)
from letta_actors.localstack.environment import LettaEnvironment, letta_environment
from letta_actors.localstack.letta_install import InstallError, ensure_installed
from letta_actors.localstack.letta_server import LettaServer, LettaServerConfig
from letta_actors.localstack.paths import LETTA_VERSION, StackPaths
from letta_actors.localstack.processes import StartupError
from letta_actors.localstack.recorder import RecordedRequest, Stats
from letta_actors.localstack.rules import (
    ChatView,
    ErrorReply,
    RateLimitReply,
    Reply,
    Rule,
    RuleBook,
    TextReply,
    ToolCall,
    ToolCallsReply,
)
from letta_actors.localstack.stack import (
    EMBEDDING_HANDLE,
    MODEL_HANDLE,
    SCRIPTED_MODEL,
    LocalStack,
    LocalStackConfig,
)

if TYPE_CHECKING:
    from letta_actors.localstack.scripted_llm import ScriptedLLM, create_app

__all__ = [
    "EMBEDDING_HANDLE",
    "LETTA_VERSION",
    "MODEL_HANDLE",
    "SCRIPTED_MODEL",
    "AsyncScriptedLLMAdmin",
    "ChatView",
    "ErrorReply",
    "InstallError",
    "LettaEnvironment",
    "LettaServer",
    "LettaServerConfig",
    "LocalStack",
    "LocalStackConfig",
    "RateLimitReply",
    "RecordedRequest",
    "Reply",
    "Rule",
    "RuleBook",
    "RulesState",
    "ScriptedLLM",
    "ScriptedLLMAdmin",
    "StackPaths",
    "StartupError",
    "Stats",
    "TextReply",
    "ToolCall",
    "ToolCallsReply",
    "WaitResult",
    "create_app",
    "ensure_installed",
    "letta_environment",
]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "ScriptedLLM"):
        from letta_actors.localstack import scripted_llm

        return getattr(scripted_llm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
