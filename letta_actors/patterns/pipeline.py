"""Pipeline: ordered stages, each stage's output feeding the next."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._outputs import output_text
from ._record import RunRecord, RunStatus
from ._run import Run, RunControl, running
from ._unique import unique

if TYPE_CHECKING:
    from ..system import ActorSystem

StageStatus = Literal["ok", "error", "timeout", "cancelled", "skipped"]


class Stage(BaseModel):
    """One stage: ask ``actor`` (any actor: a Letta agent or plain Python) with the previous
    output. ``timeout`` bounds each attempt; a failed or timed-out attempt is retried up to
    ``retries`` times."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    actor: str = Field(min_length=1)
    timeout: float | None = Field(default=None, gt=0)
    retries: int = Field(default=0, ge=0, le=10)


def unique_stages(stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
    """Validate that stage names are unique (a pipeline addresses stages by name)."""
    return unique(stages, lambda stage: stage.name, "stage names")


class PipelineSpec(BaseModel):
    """A pipeline, declared: its stages in order and the topic its progress goes to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "pipeline"
    stages: tuple[Stage, ...] = Field(min_length=1)
    progress_topic: str | None = "pipeline.progress"

    _unique = field_validator("stages")(unique_stages)


class StageResult(BaseModel):
    """What one stage did: its final status, output (or error), attempts and latency."""

    name: str
    actor: str
    status: StageStatus
    output: Any = None
    error: str | None = None
    attempts: int = 0
    latency: float = 0.0


class StageProgress(BaseModel):
    """Published on the pipeline's progress topic each time a stage finishes."""

    run_id: str
    pipeline: str
    index: int
    stage: str
    status: StageStatus
    stages: int


class PipelineResult(RunRecord):
    """The record of a pipeline run: every stage's result, and the last stage's output."""

    stages: list[StageResult] = Field(default_factory=list)
    output: Any = None


class Pipeline:
    """Runs a :class:`PipelineSpec` on a system.

    Each stage gets the previous stage's output (for a Letta agent, its reply text). A stage
    that fails after its retries stops the run (status ``failed``; later stages ``skipped``).
    The run's deadline and :class:`RunControl` end it early with status ``timed_out`` /
    ``cancelled``; the stages already done are kept.
    """

    def __init__(self, system: ActorSystem, spec: PipelineSpec) -> None:
        self.system = system
        self.spec = spec

    async def run(
        self, message: Any, *, timeout: float | None = None, control: RunControl | None = None
    ) -> PipelineResult:
        spec = self.spec
        result = PipelineResult(pattern=f"pipeline:{spec.name}")
        result.stages = [
            StageResult(name=s.name, actor=s.actor, status="skipped") for s in spec.stages
        ]
        async with running(self.system, result, timeout=timeout, control=control) as run:
            current = message
            for index, stage in enumerate(spec.stages):
                outcome = result.stages[index]
                try:
                    current = await self._stage(run, stage, current, outcome)
                finally:
                    await self._progress(run, result, index)
                if outcome.status != "ok":
                    result.status = RunStatus.FAILED
                    result.error = f"stage {stage.name!r}: {outcome.error}"
                    break
            else:
                result.output = current
        return result

    async def _stage(self, run: Run, stage: Stage, message: Any, outcome: StageResult) -> Any:
        """Run one stage with its retries; its output, or None (``outcome`` says why)."""
        started = time.monotonic()
        try:
            for attempt in range(1, stage.retries + 2):
                outcome.attempts = attempt
                try:
                    reply = await run.ask(
                        stage.actor, message, source="pipeline", timeout=stage.timeout
                    )
                except TimeoutError as exc:
                    outcome.status, outcome.error = "timeout", str(exc)
                    continue
                except Exception as exc:
                    outcome.status, outcome.error = "error", f"{type(exc).__name__}: {exc}"
                    continue
                outcome.status, outcome.error = "ok", None
                outcome.output = output_text(reply)
                break
        except anyio.get_cancelled_exc_class():
            outcome.status, outcome.error = "cancelled", "the run was stopped"
            raise
        finally:
            outcome.latency = time.monotonic() - started
        return outcome.output

    async def _progress(self, run: Run, result: PipelineResult, index: int) -> None:
        topic = self.spec.progress_topic
        if topic is None:
            return
        stage = result.stages[index]
        progress = StageProgress(run_id=result.run_id, pipeline=self.spec.name, index=index,
                                 stage=stage.name, status=stage.status,
                                 stages=len(result.stages))  # fmt: skip
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):
            await self.system.bus.publish(topic, progress)
        run.event("publish", "pipeline", None, f"{topic}: {stage.name} {stage.status}")
