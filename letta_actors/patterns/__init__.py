"""The multi-agent patterns, as reusable building blocks on actors and the bus.

Every run has a deadline, can be cancelled from outside (:class:`RunControl`), and returns a
:class:`RunRecord` (status, ordered events, tokens per agent, a Mermaid sequence diagram) even
when it timed out or was cancelled. See ``docs/patterns.md``.
"""

from ..usage import Usage
from ._delegation import DELEGATE, Delegation, DelegationPolicy, PlanStep
from ._record import RunEvent, RunRecord, RunStatus
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
from .orchestrator import Orchestrator, OrchestratorAgent, OrchestratorResult, OrchestratorSpec
from .parallel import FanOut, FanOutResult, FanOutSpec, FanOutTask, TaskResult
from .pipeline import Pipeline, PipelineResult, PipelineSpec, Stage, StageProgress, StageResult

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
    "team_report",
    "vote_tools",
]
