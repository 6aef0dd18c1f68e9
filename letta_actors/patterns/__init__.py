"""The multi-agent patterns, as reusable building blocks on actors and the bus.

Every run has a deadline, can be cancelled from outside (:class:`RunControl`), and returns a
:class:`RunRecord` (status, ordered events, tokens per agent, a Mermaid sequence diagram) even
when it timed out or was cancelled. See ``docs/patterns.md``.

Runs among plain actors never load the Letta integration: the orchestrator (a Letta agent by
nature) is imported on first use of its names, and the handoff / vote tools import Letta's tool
type only when a Letta agent asks for them (``_report``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..usage import Usage
from ._ledger import DELEGATE, Delegation, DelegationPolicy, PlanStep
from ._record import RunEvent, RunRecord, RunStatus, summarize
from ._run import Run, RunControl
from ._voting import Ballot, Tally, VotingRules
from .consensus import (
    ABSTAIN,
    VOTE,
    BallotRequest,
    Consensus,
    ConsensusResult,
    ConsensusSpec,
    VoteChange,
    VoteRound,
    vote_tools,
)
from .handoff import (
    TRANSFER,
    AgentTurn,
    Handoff,
    HandoffMessage,
    HandoffSession,
    HandoffSpec,
    HandoffTurn,
    RefusedHandoff,
    TranscriptEntry,
    handoff_tools,
)
from .monitoring import AgentStatus, HealthReport, Probe, TeamReport, health_check, team_report
from .parallel import FanOut, FanOutResult, FanOutSpec, FanOutTask, TaskResult
from .pipeline import Pipeline, PipelineResult, PipelineSpec, Stage, StageProgress, StageResult

if TYPE_CHECKING:
    from .orchestrator import Orchestrator, OrchestratorAgent, OrchestratorResult, OrchestratorSpec

#: Names whose module needs the Letta integration: imported on first use (PEP 562).
_LAZY = dict.fromkeys(
    ("Orchestrator", "OrchestratorAgent", "OrchestratorResult", "OrchestratorSpec"),
    ".orchestrator",
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


#: The tool factories of the patterns an agent takes part in by tools (handoff, voting).
PATTERN_TOOL_FACTORIES = (handoff_tools, vote_tools)

__all__ = [
    "ABSTAIN",
    "DELEGATE",
    "PATTERN_TOOL_FACTORIES",
    "TRANSFER",
    "VOTE",
    "AgentStatus",
    "AgentTurn",
    "Ballot",
    "BallotRequest",
    "Consensus",
    "ConsensusResult",
    "ConsensusSpec",
    "Delegation",
    "DelegationPolicy",
    "FanOut",
    "FanOutResult",
    "FanOutSpec",
    "FanOutTask",
    "Handoff",
    "HandoffMessage",
    "HandoffSession",
    "HandoffSpec",
    "HandoffTurn",
    "HealthReport",
    "Orchestrator",
    "OrchestratorAgent",
    "OrchestratorResult",
    "OrchestratorSpec",
    "Pipeline",
    "PipelineResult",
    "PipelineSpec",
    "PlanStep",
    "Probe",
    "RefusedHandoff",
    "Run",
    "RunControl",
    "RunEvent",
    "RunRecord",
    "RunStatus",
    "Stage",
    "StageProgress",
    "StageResult",
    "Tally",
    "TaskResult",
    "TeamReport",
    "TranscriptEntry",
    "Usage",
    "VoteChange",
    "VoteRound",
    "VotingRules",
    "handoff_tools",
    "health_check",
    "summarize",
    "team_report",
    "vote_tools",
]
