"""The multi-agent patterns, as reusable building blocks on actors and the bus.

Every run has a deadline, can be cancelled from outside (:class:`RunControl`), and returns a
:class:`RunRecord` (status, ordered events, tokens per agent, a Mermaid sequence diagram) even
when it timed out or was cancelled.
"""

from ._record import RunEvent, RunRecord, RunStatus, Usage
from ._run import Run, RunControl
from .parallel import FanOut, FanOutResult, FanOutSpec, FanOutTask, TaskResult
from .pipeline import Pipeline, PipelineResult, PipelineSpec, Stage, StageProgress, StageResult

__all__ = [
    "FanOut",
    "FanOutResult",
    "FanOutSpec",
    "FanOutTask",
    "Pipeline",
    "PipelineResult",
    "PipelineSpec",
    "Run",
    "RunControl",
    "RunEvent",
    "RunRecord",
    "RunStatus",
    "Stage",
    "StageProgress",
    "StageResult",
    "TaskResult",
    "Usage",
]
