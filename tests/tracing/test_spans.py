"""Spans of the core: messages handled (one trace across actors), outcomes, restarts, logs,
patterns with plain actors; and no global state."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from opentelemetry.trace import StatusCode

from letta_actors import Actor, ActorSystem
from letta_actors.actors import Envelope
from letta_actors.patterns import FanOut, FanOutSpec, FanOutTask, Pipeline, PipelineSpec, Stage
from letta_actors.supervisors import NO_BACKOFF
from letta_actors.tracing import TraceContextFilter, install_tracing

from ..helpers import Boom, Echo
from .conftest import Traced, parent_of, span_id, trace_id

pytestmark = pytest.mark.anyio


class Front(Actor):
    """Asks ``middle``, which tells ``back``; replies once ``back`` has handled it."""

    def __init__(self, done: anyio.Event) -> None:
        self.done = done

    async def receive(self, message: Any) -> Any:
        reply = await self.ask("middle", message)
        await self.done.wait()
        return reply


class Middle(Actor):
    async def receive(self, message: Any) -> Any:
        await self.tell("back", message)
        return f"middle:{message}"


class Back(Actor):
    def __init__(self, done: anyio.Event, records: list[logging.LogRecord]) -> None:
        self.done = done
        self.records = records

    async def receive(self, message: Any) -> Any:
        logging.getLogger("tests.tracing").info("back handles %s", message)
        self.done.set()


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_one_trace_across_actors_with_ask_and_tell(traced: Traced) -> None:
    records: list[logging.LogRecord] = []
    handler = _Keep(records)
    handler.addFilter(TraceContextFilter())
    logger = logging.getLogger("tests.tracing")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        async with ActorSystem() as system:
            spans = traced(system)
            done = anyio.Event()
            await system.spawn(lambda: Front(done), name="front")
            await system.spawn(Middle, name="middle")
            await system.spawn(lambda: Back(done, records), name="back")
            with anyio.fail_after(10):
                assert await system.ref("front").ask("hi") == "middle:hi"
    finally:
        logger.removeHandler(handler)
    front, middle, back = (spans.one(f"handle {n}") for n in ("front", "middle", "back"))
    assert parent_of(front) is None  # asked from outside any span: a trace of its own
    assert parent_of(middle) == span_id(front)
    assert parent_of(back) == span_id(middle)
    assert {trace_id(front), trace_id(middle), trace_id(back)} == {trace_id(front)}
    assert front.attributes is not None and middle.attributes is not None
    assert back.attributes is not None
    assert front.attributes["letta_actors.message.kind"] == "ask"
    assert middle.attributes["letta_actors.message.kind"] == "ask"
    assert middle.attributes["letta_actors.message.sender"] == "front"
    assert (
        middle.attributes["letta_actors.message.correlation_id"]
        == middle.attributes["letta_actors.message.id"]
    )
    assert back.attributes["letta_actors.message.kind"] == "tell"
    assert "letta_actors.message.correlation_id" not in back.attributes
    assert {(s.attributes or {}).get("letta_actors.outcome") for s in (front, middle, back)} == {
        "ok"
    }
    logged = next(r for r in records if r.getMessage() == "back handles hi")
    assert logged.trace_id == format(trace_id(back), "032x")  # type: ignore[attr-defined]
    assert logged.span_id == format(span_id(back), "016x")  # type: ignore[attr-defined]


class Failing(Actor):
    restart_on_error = False

    def __init__(self, hanging: anyio.Event) -> None:
        self.hanging = hanging

    async def receive(self, message: Any) -> Any:
        if message == "hang":
            self.hanging.set()
            await anyio.sleep_forever()
        raise Boom(f"bad {message}")


async def test_outcomes_error_and_cancelled(traced: Traced) -> None:
    async with ActorSystem() as system:
        spans = traced(system)
        hanging = anyio.Event()
        ref = await system.spawn(lambda: Failing(hanging), name="failing")
        with pytest.raises(Boom):
            await ref.ask("x", timeout=10)
        await ref.tell("hang")
        with anyio.fail_after(10):
            await hanging.wait()
            await ref.stop(timeout=0.01)  # the stop deadline cancels the handling
    error, cancelled = spans.named("handle failing")
    assert error.attributes is not None and cancelled.attributes is not None
    assert error.attributes["letta_actors.outcome"] == "error"
    assert error.status.status_code is StatusCode.ERROR
    assert error.status.description == "Boom: bad x"
    assert [e.name for e in error.events] == ["exception"]
    assert cancelled.attributes["letta_actors.outcome"] == "cancelled"
    assert cancelled.status.status_code is StatusCode.UNSET


class Crashing(Actor):
    async def receive(self, message: Any) -> Any:
        raise Boom("crash")


async def test_supervisor_restart_span(traced: Traced) -> None:
    async with ActorSystem(backoff=NO_BACKOFF) as system:
        spans = traced(system)
        ref = await system.spawn(Crashing, name="crashing")
        await ref.tell("x")
        with anyio.fail_after(10):
            while not spans.named("restart crashing"):
                await anyio.wait_all_tasks_blocked()
    restart = spans.one("restart crashing")
    assert restart.attributes is not None
    assert restart.attributes["letta_actors.supervisor"] == "root"
    assert list(restart.attributes["letta_actors.restart.actors"]) == ["crashing"]  # type: ignore[arg-type]
    assert restart.attributes["letta_actors.restart.strategy"] == "one_for_one"
    assert restart.attributes["letta_actors.restart.error"] == "Boom: crash"
    # The restart happens while the supervisor handles the child's exit.
    handling = [s for s in spans.named("handle root") if span_id(s) == parent_of(restart)]
    assert len(handling) == 1


async def test_pipeline_and_fan_out_runs_are_one_trace_each(traced: Traced) -> None:
    async with ActorSystem() as system:
        spans = traced(system)
        await system.spawn(Echo, name="a")
        await system.spawn(Echo, name="b")
        spec = PipelineSpec(stages=(Stage(name="one", actor="a"), Stage(name="two", actor="b")))
        with anyio.fail_after(10):
            record = await Pipeline(system, spec).run("x")
            tasks = (FanOutTask(id="t1", agent="a", message=1),
                     FanOutTask(id="t2", agent="b", message=2))  # fmt: skip
            fan = await FanOut(system, FanOutSpec(tasks=tasks)).run()
    run = spans.one(f"run {record.pattern}")
    assert run.attributes is not None
    assert run.attributes["letta_actors.run.id"] == record.run_id
    assert run.attributes["letta_actors.outcome"] == "completed"
    stages = spans.named("stage a") + spans.named("stage b")
    assert [parent_of(s) for s in stages] == [span_id(run)] * 2
    handled = [s for s in spans.named("handle a") + spans.named("handle b")
               if parent_of(s) in {span_id(s) for s in stages}]  # fmt: skip
    assert len(handled) == 2
    assert {trace_id(s) for s in [run, *stages, *handled]} == {trace_id(run)}
    fan_run = spans.one(f"run {fan.pattern}")
    task_spans = spans.named("task a") + spans.named("task b")
    assert [parent_of(s) for s in task_spans] == [span_id(fan_run)] * 2
    assert trace_id(fan_run) != trace_id(run)  # two runs, two traces
    # What the run records (request, reply, publish...) shows as events of its spans.
    assert {"request", "reply"} <= {e.name for e in run.events}


async def test_two_systems_are_independent(traced: Traced) -> None:
    seen: list[Envelope] = []

    class Keep(Actor):
        async def receive(self, message: Any) -> Any:
            assert self.envelope is not None
            seen.append(self.envelope)

    async with ActorSystem(name="one") as one, ActorSystem(name="two") as two:
        spans = traced(one)
        assert two.tracer is None
        await one.spawn(Keep, name="keep")
        await two.spawn(Keep, name="keep")
        with anyio.fail_after(10):
            await one.ref("keep").ask("a")
            await two.ref("keep").ask("b")
    assert [s.name for s in spans.all() if s.name == "handle keep"] == ["handle keep"]
    assert seen[1].trace is None


async def test_the_envelope_carries_the_context_and_serialises_it(traced: Traced) -> None:
    seen: list[Envelope] = []

    class Keep(Actor):
        async def receive(self, message: Any) -> Any:
            assert self.envelope is not None
            seen.append(self.envelope)
            if message == "first":
                await self.tell("keep", "second")

    async with ActorSystem() as system:
        spans = traced(system)
        await system.spawn(Keep, name="keep")
        with anyio.fail_after(10):
            await system.ref("keep").tell("first")
            while len(seen) < 2:
                await anyio.wait_all_tasks_blocked()
    first, second = seen
    assert first.trace is None  # sent outside any span
    assert second.trace is not None
    parent = spans.named("handle keep")[0]
    assert second.trace["traceparent"].startswith(
        f"00-{trace_id(parent):032x}-{span_id(parent):016x}-"
    )
    assert Envelope.from_json(second.to_json()).trace == second.trace


async def test_close_takes_tracing_off() -> None:
    async with ActorSystem() as system:
        tracing = install_tracing(system, endpoint="http://127.0.0.1:9/v1/traces")
        with pytest.raises(RuntimeError, match="already has a tracer"):
            install_tracing(system)
        assert system.tracer is tracing.hook
        tracing.close()
        tracing.close()
        assert system.tracer is None
        ref = await system.spawn(Echo, name="echo")
        assert await ref.ask("x", timeout=10) == "x"
