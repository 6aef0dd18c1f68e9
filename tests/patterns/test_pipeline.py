"""Pipeline and fan-out with plain-Python actors (the Letta versions are in tests/letta)."""

from __future__ import annotations

from typing import Any

import anyio
import pydantic
import pytest

from letta_actors import Actor, ActorSystem
from letta_actors.patterns import (
    FanOut,
    FanOutSpec,
    FanOutTask,
    Pipeline,
    PipelineSpec,
    RunControl,
    RunStatus,
    Stage,
    StageProgress,
)

from ..helpers import Boom

pytestmark = pytest.mark.anyio


class Step(Actor):
    """Appends its name; ``fail:<name>`` in the input makes it raise, ``hang:<name>`` hang."""

    cancel_abandoned_asks = True  # like a Letta agent: a run that gives up cancels the work

    def __init__(self, calls: list[str] | None = None) -> None:
        self.calls = calls if calls is not None else []

    async def receive(self, message: Any) -> Any:
        self.calls.append(self.name)
        if f"hang:{self.name}" in message:
            await anyio.sleep_forever()
        if f"fail:{self.name}" in message:
            raise Boom(f"{self.name} failed")
        return f"{message}>{self.name}"


class FlakyStep(Actor):
    """Fails on its first call only."""

    restart_on_error = False

    def __init__(self) -> None:
        self.calls = 0

    async def receive(self, message: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise Boom("flaky")
        return f"{message}>flaky"


class Progress(Actor):
    def __init__(self, seen: list[StageProgress]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        if isinstance(message, StageProgress):
            self.seen.append(message)


def spec(*actors: str, **stage_options: Any) -> PipelineSpec:
    return PipelineSpec(
        name="apv",
        stages=tuple(Stage(name=f"{a}-stage", actor=a, **stage_options) for a in actors),
    )


async def spawn_steps(system: ActorSystem, *names: str) -> None:
    for name in names:
        await system.spawn(Step, name=name, restart="permanent")


async def test_each_stage_feeds_the_next_and_progress_is_published() -> None:
    seen: list[StageProgress] = []
    async with ActorSystem() as system:
        await spawn_steps(system, "analyse", "process", "validate")
        await system.spawn(lambda: Progress(seen), name="watcher")
        system.bus.subscribe("pipeline.progress", "watcher")
        result = await Pipeline(system, spec("analyse", "process", "validate")).run("in")
        await system.ref("watcher").ask("sync")
    assert result.status is RunStatus.COMPLETED
    assert result.output == "in>analyse>process>validate"
    assert [s.output for s in result.stages] == [
        "in>analyse",
        "in>analyse>process",
        "in>analyse>process>validate",
    ]
    assert [(p.index, p.stage, p.status) for p in seen] == [
        (0, "analyse-stage", "ok"),
        (1, "process-stage", "ok"),
        (2, "validate-stage", "ok"),
    ]
    assert [e.kind for e in result.events if e.kind in ("request", "reply")] == [
        "request", "reply"] * 3  # fmt: skip
    assert set(result.usage) == {"analyse", "process", "validate"}


async def test_a_failing_stage_stops_the_run_and_later_stages_are_skipped() -> None:
    async with ActorSystem() as system:
        await spawn_steps(system, "analyse", "process", "validate")
        result = await Pipeline(system, spec("analyse", "process", "validate")).run("fail:process")
    assert result.status is RunStatus.FAILED
    assert [s.status for s in result.stages] == ["ok", "error", "skipped"]
    assert "process failed" in (result.error or "")
    assert result.output is None


async def test_stage_retry_recovers_from_a_transient_failure() -> None:
    async with ActorSystem() as system:
        await system.spawn(FlakyStep, name="flaky")
        result = await Pipeline(system, spec("flaky", retries=1)).run("x")
    assert result.status is RunStatus.COMPLETED
    assert result.stages[0].attempts == 2
    assert result.output == "x>flaky"


async def test_stage_timeout_is_reported_per_stage() -> None:
    async with ActorSystem() as system:
        await spawn_steps(system, "analyse", "process")
        result = await Pipeline(system, spec("analyse", "process", timeout=0.05)).run(
            "hang:process"
        )
    assert [s.status for s in result.stages] == ["ok", "timeout"]
    assert result.status is RunStatus.FAILED


async def test_run_deadline_returns_what_was_done() -> None:
    async with ActorSystem() as system:
        await spawn_steps(system, "analyse", "process", "validate")
        result = await Pipeline(system, spec("analyse", "process", "validate")).run(
            "hang:process", timeout=0.1
        )
    assert result.status is RunStatus.TIMED_OUT
    assert result.partial
    assert [s.status for s in result.stages] == ["ok", "cancelled", "skipped"]
    assert result.stages[0].output == "hang:process>analyse"


async def test_run_can_be_cancelled_from_outside() -> None:
    control = RunControl()
    async with ActorSystem() as system:
        await spawn_steps(system, "analyse", "process")

        async def cancel_when_stuck() -> None:
            with anyio.fail_after(5):
                while not system.cell("process").current:  # type: ignore[union-attr]
                    await anyio.lowlevel.checkpoint()
            control.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_when_stuck)
            result = await Pipeline(system, spec("analyse", "process")).run(
                "hang:process", control=control
            )
    assert result.status is RunStatus.CANCELLED
    assert [s.status for s in result.stages] == ["ok", "cancelled"]


async def test_pipeline_spec_is_validated() -> None:
    with pytest.raises(pydantic.ValidationError):
        PipelineSpec(stages=())
    with pytest.raises(pydantic.ValidationError, match="unique"):
        PipelineSpec(stages=(Stage(name="a", actor="x"), Stage(name="a", actor="y")))
    with pytest.raises(pydantic.ValidationError):
        Stage(name="a", actor="x", timeout=0)


async def test_fan_out_reports_every_task_with_partial_results() -> None:
    async with ActorSystem() as system:
        await spawn_steps(system, "technical", "business", "design")
        fan_out = FanOut.of(
            system,
            [
                ("t", "technical", "review"),
                ("b", "business", "fail:business"),
                ("d", "design", "hang:design"),
                ("x", "missing-agent", "review"),
            ],
            task_timeout=0.1,
        )
        result = await fan_out.run()
    by_id = {r.id: r for r in result.results}
    assert result.status is RunStatus.PARTIAL
    assert by_id["t"].status == "ok" and by_id["t"].answer == "review>technical"
    assert by_id["b"].status == "error" and "business failed" in (by_id["b"].error or "")
    assert by_id["d"].status == "timeout"
    assert by_id["x"].status == "error" and "ActorNotFound" in (by_id["x"].error or "")
    assert result.answers() == {"t": "review>technical"}


async def test_fan_out_respects_the_concurrency_bound() -> None:
    in_flight = 0
    peak = 0
    release = anyio.Event()

    class Slow(Actor):
        async def receive(self, message: Any) -> Any:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await release.wait()
            in_flight -= 1
            return message

    async with ActorSystem() as system:
        for i in range(6):
            await system.spawn(Slow, name=f"a{i}")
        spec = FanOutSpec(
            tasks=tuple(FanOutTask(id=str(i), agent=f"a{i}", message=i) for i in range(6)),
            concurrency=2,
        )
        async with anyio.create_task_group() as tg:

            async def release_when_saturated() -> None:
                with anyio.fail_after(5):
                    while in_flight < 2:
                        await anyio.lowlevel.checkpoint()
                await anyio.wait_all_tasks_blocked()
                release.set()

            tg.start_soon(release_when_saturated)
            result = await FanOut(system, spec).run()
    assert result.status is RunStatus.COMPLETED
    assert peak == 2


async def test_fan_out_cancel_on_first_failure() -> None:
    async with ActorSystem() as system:
        await spawn_steps(system, "a", "b")
        result = await FanOut.of(
            system, [("1", "a", "fail:a"), ("2", "b", "hang:b")], cancel_on_failure=True
        ).run()
    statuses = {r.id: r.status for r in result.results}
    assert statuses == {"1": "error", "2": "cancelled"}
    assert result.status is RunStatus.FAILED


async def test_fan_out_deadline_keeps_finished_answers() -> None:
    async with ActorSystem() as system:
        await spawn_steps(system, "a", "b")
        result = await FanOut.of(system, [("1", "a", "x"), ("2", "b", "hang:b")]).run(timeout=0.1)
    assert result.status is RunStatus.TIMED_OUT
    assert {r.id: r.status for r in result.results} == {"1": "ok", "2": "cancelled"}
    assert result.answers() == {"1": "x>a"}


async def test_run_record_renders_a_mermaid_sequence_diagram() -> None:
    async with ActorSystem() as system:
        await spawn_steps(system, "analyse", "process")
        result = await Pipeline(system, spec("analyse", "process")).run("a;b#c")
    diagram = result.to_mermaid()
    lines = diagram.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert "    participant pipeline as pipeline" in lines
    assert "    pipeline->>analyse: request: a#59;b#35;c" in lines
    assert any(line.startswith("    analyse-->>pipeline: reply:") for line in lines)
    assert lines.index("    pipeline->>analyse: request: a#59;b#35;c") < next(
        i for i, line in enumerate(lines) if line.startswith("    pipeline->>process")
    )
