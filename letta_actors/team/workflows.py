"""Workflows declared in a team file: one pydantic model per pattern, told apart by ``kind``.

Each declaration knows the actors it uses (for checking the file) and how to run itself on a
system with an input message, returning the pattern's :class:`~letta_actors.patterns.RunRecord`.
New patterns join the :data:`Workflow` union with a ``kind`` of their own.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from ..patterns import (
    Consensus,
    ConsensusSpec,
    FanOut,
    FanOutSpec,
    FanOutTask,
    HandoffSession,
    HandoffSpec,
    Orchestrator,
    OrchestratorSpec,
    Pipeline,
    PipelineSpec,
    Stage,
    VotingRules,
)
from ..patterns.parallel import unique_ids
from ..patterns.pipeline import unique_stages

if TYPE_CHECKING:
    from ..patterns import RunControl, RunRecord
    from ..system import ActorSystem

#: In a fan-out task's message, replaced by the run's input.
INPUT_PLACEHOLDER = "{input}"


class _WorkflowBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = None
    timeout: float | None = Field(default=600.0, gt=0)


class PipelineWorkflow(_WorkflowBase):
    """``kind = "pipeline"``: the input goes through ``stages`` in order (see
    :class:`~letta_actors.patterns.PipelineSpec`)."""

    kind: Literal["pipeline"]
    stages: tuple[Stage, ...] = Field(min_length=1)
    progress_topic: str | None = "pipeline.progress"

    _unique = field_validator("stages")(unique_stages)

    def actors(self) -> list[str]:
        return [stage.actor for stage in self.stages]

    async def run(
        self, system: ActorSystem, name: str, message: Any, control: RunControl
    ) -> RunRecord:
        spec = PipelineSpec(name=name, stages=self.stages, progress_topic=self.progress_topic)
        return await Pipeline(system, spec).run(message, timeout=self.timeout, control=control)


class FanOutTaskConfig(BaseModel):
    """One task of a fan-out; ``{input}`` in a string ``message`` becomes the run's input."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    agent: str = Field(min_length=1)
    message: Any = INPUT_PLACEHOLDER


class FanOutWorkflow(_WorkflowBase):
    """``kind = "fan_out"``: every task at once, bounded by ``concurrency`` (see
    :class:`~letta_actors.patterns.FanOutSpec`)."""

    kind: Literal["fan_out"]
    tasks: tuple[FanOutTaskConfig, ...] = Field(min_length=1)
    concurrency: int = Field(default=8, ge=1, le=1000)
    task_timeout: float | None = Field(default=None, gt=0)
    cancel_on_failure: bool = False

    _unique = field_validator("tasks")(unique_ids)

    def actors(self) -> list[str]:
        return [task.agent for task in self.tasks]

    def spec(self, name: str, message: Any) -> FanOutSpec:
        def fill(template: Any) -> Any:
            if isinstance(template, str):
                if template == INPUT_PLACEHOLDER:
                    return message
                return template.replace(INPUT_PLACEHOLDER, str(message))
            return template

        tasks = tuple(
            FanOutTask(id=t.id, agent=t.agent, message=fill(t.message)) for t in self.tasks
        )
        return FanOutSpec(
            name=name,
            tasks=tasks,
            concurrency=self.concurrency,
            task_timeout=self.task_timeout,
            cancel_on_failure=self.cancel_on_failure,
        )

    async def run(
        self, system: ActorSystem, name: str, message: Any, control: RunControl
    ) -> RunRecord:
        fan_out = FanOut(system, self.spec(name, message))
        return await fan_out.run(timeout=self.timeout, control=control)


class OrchestratorWorkflow(OrchestratorSpec):
    """``kind = "orchestrator"``: the input is a task for ``orchestrator`` (an agent declared
    with ``role = "orchestrator"``), which delegates to ``specialists`` through its tool. The
    fields and their checks are :class:`~letta_actors.patterns.OrchestratorSpec`'s (its
    ``name`` is the workflow's key). Links to the specialists are made."""

    kind: Literal["orchestrator"]
    description: str | None = None

    def actors(self) -> list[str]:
        return [self.orchestrator, *self.specialists]

    async def run(
        self, system: ActorSystem, name: str, message: Any, control: RunControl
    ) -> RunRecord:
        orchestrator = Orchestrator(system, self.model_copy(update={"name": name}))
        orchestrator.link_team()
        return await orchestrator.run(str(message), timeout=self.timeout, control=control)


class ConsensusWorkflow(_WorkflowBase):
    """``kind = "consensus"``: the input is the question; ``voters`` vote among ``options``
    under the voting rules (see :class:`~letta_actors.patterns.ConsensusSpec`)."""

    kind: Literal["consensus"]
    voters: tuple[str, ...] = Field(min_length=1)
    rules: VotingRules
    second_round: bool = False
    vote_timeout: float | None = Field(default=None, gt=0)

    def actors(self) -> list[str]:
        return list(self.voters)

    async def run(
        self, system: ActorSystem, name: str, message: Any, control: RunControl
    ) -> RunRecord:
        spec = ConsensusSpec(
            name=name,
            question=str(message),
            voters=self.voters,
            rules=self.rules,
            second_round=self.second_round,
            vote_timeout=self.vote_timeout,
        )
        return await Consensus(system, spec).run(timeout=self.timeout, control=control)


class HandoffWorkflow(HandoffSpec):
    """``kind = "handoff"``: one conversation (a session kept for the daemon's life); each run
    is one user message, answered by the current agent after any handoffs. The fields and
    their checks are :class:`~letta_actors.patterns.HandoffSpec`'s (its ``name`` is the
    workflow's key); ``timeout`` bounds each message."""

    kind: Literal["handoff"]
    description: str | None = None
    timeout: float | None = Field(default=600.0, gt=0)
    _sessions: weakref.WeakKeyDictionary[ActorSystem, HandoffSession] = PrivateAttr(
        default_factory=weakref.WeakKeyDictionary
    )

    def actors(self) -> list[str]:
        return list(self.agents)

    async def run(
        self, system: ActorSystem, name: str, message: Any, control: RunControl
    ) -> RunRecord:
        session = self._sessions.get(system)
        if session is None:
            spec = self.model_copy(update={"name": name})
            session = self._sessions[system] = HandoffSession(system, spec)
        return await session.send(str(message), timeout=self.timeout, control=control)


Workflow = Annotated[
    PipelineWorkflow | FanOutWorkflow | OrchestratorWorkflow | ConsensusWorkflow | HandoffWorkflow,
    Field(discriminator="kind"),
]
