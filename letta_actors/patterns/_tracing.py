"""Spans of pattern runs and their steps, when the system has a tracer (else nothing).

A run is one span (``run <pattern>``); each ask it makes is a step span (``stage``, ``task``,
``vote``, ``handoff`` or ``orchestrate``, by pattern) and each delegation of an orchestrator a
``delegate`` span; what the run records as events (votes, handoffs, notes) become events of the
current span. Steps are children of the run, and the messages they send carry the trace on, so
one run is one trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from ..actors import SpanHandle

if TYPE_CHECKING:
    from ..system import ActorSystem
    from ._record import RunEvent, RunRecord

#: The step span of each pattern kind (the part of ``RunRecord.pattern`` before ``:``).
STEPS = {
    "pipeline": "stage",
    "fan-out": "task",
    "consensus": "vote",
    "handoff": "handoff",
    "orchestrator": "orchestrate",
}
_FAILED = ("failed", "timed_out")


def step(
    system: ActorSystem, record: RunRecord | None, kind: str | None, source: str, target: str
) -> AbstractContextManager[SpanHandle | None]:
    """The span of one step of a run: ``source`` asks ``target`` (kind by pattern if None)."""
    tracer = system.tracer
    if tracer is None:
        return nullcontext()
    pattern = record.pattern if record is not None else ""
    kind = kind or STEPS.get(pattern.partition(":")[0], "step")
    attributes = {
        "letta_actors.step": kind,
        "letta_actors.step.source": source,
        "letta_actors.step.target": target,
    }
    if record is not None:
        attributes["letta_actors.run.pattern"] = pattern
        attributes["letta_actors.run.id"] = record.run_id
    return tracer.span(f"{kind} {target}", attributes)


@contextmanager
def run_span(system: ActorSystem, record: RunRecord) -> Iterator[None]:
    """The span of a whole run; ends with the run's status, run id and tokens."""
    tracer = system.tracer
    if tracer is None:
        yield
        return
    with tracer.span(f"run {record.pattern}", {"letta_actors.run.pattern": record.pattern}) as span:
        try:
            yield
        finally:
            status = str(record.status)
            span.outcome(status, (record.error or status) if status in _FAILED else None)
            span.set("letta_actors.run.id", record.run_id)
            usage = record.total_usage
            span.set("letta_actors.run.prompt_tokens", usage.prompt_tokens)
            span.set("letta_actors.run.completion_tokens", usage.completion_tokens)
            span.set("letta_actors.run.requests", usage.requests)


def event(system: ActorSystem, record: RunRecord, event: RunEvent) -> None:
    """Add a run event to the current span."""
    tracer = system.tracer
    if tracer is None:
        return
    attributes: dict[str, Any] = {"letta_actors.run.id": record.run_id, "source": event.source}
    if event.target is not None:
        attributes["target"] = event.target
    if event.summary:
        attributes["summary"] = event.summary
    tracer.event(event.kind, attributes)
