"""Parallel fan-out: many tasks to many agents, bounded, with partial results."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import anyio
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._outputs import output_text
from ._record import RunRecord, RunStatus
from ._run import Run, RunControl, running
from ._unique import unique

if TYPE_CHECKING:
    from ..system import ActorSystem

TaskStatus = Literal["ok", "error", "timeout", "cancelled"]


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_HasId = TypeVar("_HasId", bound=_Identified)


def unique_ids(tasks: tuple[_HasId, ...]) -> tuple[_HasId, ...]:
    """Validate that task ids are unique (results are reported by task id)."""
    return unique(tasks, lambda task: task.id, "task ids")


class FanOutTask(BaseModel):
    """One task: ask ``agent`` with ``message``; ``id`` names it in the result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    agent: str = Field(min_length=1)
    message: Any


class FanOutSpec(BaseModel):
    """A fan-out, declared: the tasks and how to run them.

    ``concurrency`` bounds the tasks in flight (each agent still handles one message at a time);
    ``task_timeout`` bounds each task; with ``cancel_on_failure`` the first failure cancels the
    tasks still running or waiting (they are reported ``cancelled``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "fan-out"
    tasks: tuple[FanOutTask, ...] = Field(min_length=1)
    concurrency: int = Field(default=8, ge=1, le=1000)
    task_timeout: float | None = Field(default=None, gt=0)
    cancel_on_failure: bool = False

    _unique = field_validator("tasks")(unique_ids)


class TaskResult(BaseModel):
    """A task's outcome: its answer, or the reason it has none."""

    id: str
    agent: str
    status: TaskStatus = "cancelled"
    answer: Any = None
    error: str | None = None
    latency: float = 0.0


class FanOutResult(RunRecord):
    """The record of a fan-out: one result per task, in the order the tasks were given."""

    results: list[TaskResult] = Field(default_factory=list)

    def answers(self) -> dict[str, Any]:
        """The answers of the tasks that succeeded, by task id."""
        return {r.id: r.answer for r in self.results if r.status == "ok"}


class FanOut:
    """Runs a :class:`FanOutSpec`: every task reports success with its answer, or its error.

    The run is ``completed`` when every task succeeded, ``partial`` when some did, ``failed``
    when none did; its deadline and :class:`RunControl` end it early (``timed_out`` /
    ``cancelled``), the unfinished tasks then reported ``cancelled``.
    """

    def __init__(self, system: ActorSystem, spec: FanOutSpec) -> None:
        self.system = system
        self.spec = spec

    @classmethod
    def of(
        cls, system: ActorSystem, tasks: Sequence[tuple[str, str, Any]], **options: Any
    ) -> FanOut:
        """Shorthand: tasks as ``(id, agent, message)`` triples, options as in the spec."""
        spec = FanOutSpec(
            tasks=tuple(FanOutTask(id=i, agent=a, message=m) for i, a, m in tasks), **options
        )
        return cls(system, spec)

    async def run(
        self, *, timeout: float | None = None, control: RunControl | None = None
    ) -> FanOutResult:
        spec = self.spec
        result = FanOutResult(pattern=f"fan-out:{spec.name}")
        result.results = [TaskResult(id=t.id, agent=t.agent) for t in spec.tasks]
        limiter = anyio.CapacityLimiter(spec.concurrency)
        async with running(self.system, result, timeout=timeout, control=control) as run:
            async with anyio.create_task_group() as tg:
                for task, outcome in zip(spec.tasks, result.results, strict=True):
                    tg.start_soon(self._task, run, tg.cancel_scope, limiter, task, outcome)
            if result.status is RunStatus.COMPLETED:
                ok = sum(r.status == "ok" for r in result.results)
                if ok == 0:
                    result.status = RunStatus.FAILED
                elif ok < len(result.results):
                    result.status = RunStatus.PARTIAL
        for outcome in result.results:
            if outcome.status == "cancelled" and outcome.error is None:
                outcome.error = "not finished: the run was stopped"
        return result

    async def _task(
        self,
        run: Run,
        group: anyio.CancelScope,
        limiter: anyio.CapacityLimiter,
        task: FanOutTask,
        outcome: TaskResult,
    ) -> None:
        async with limiter:
            started = time.monotonic()
            try:
                reply = await run.ask(
                    task.agent, task.message, source="fan-out", timeout=self.spec.task_timeout
                )
            except TimeoutError as exc:
                outcome.status, outcome.error = "timeout", str(exc)
            except Exception as exc:
                outcome.status, outcome.error = "error", f"{type(exc).__name__}: {exc}"
            else:
                outcome.status, outcome.answer = "ok", output_text(reply)
            finally:
                outcome.latency = time.monotonic() - started
            if outcome.status != "ok" and self.spec.cancel_on_failure:
                group.cancel()
