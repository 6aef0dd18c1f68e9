"""Tracing on a system with spans kept in memory: ``traced(system)`` installs it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from letta_actors import ActorSystem
from letta_actors.tracing import SystemTracing, install_tracing


class Spans:
    """The finished spans of one traced system."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.all() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, (name, [s.name for s in self.all()])
        return found[0]


Traced = Callable[[ActorSystem], Spans]


@pytest.fixture
def traced() -> Iterator[Traced]:
    installed: list[SystemTracing] = []

    def install(system: ActorSystem) -> Spans:
        spans = Spans()
        installed.append(install_tracing(system, processor=SimpleSpanProcessor(spans.exporter)))
        return spans

    yield install
    for tracing in installed:
        tracing.close()


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


# The daemon process fixture of tests/daemon (the Letta stack's fixtures are in tests/conftest.py).
from ..daemon.conftest import start_daemon  # noqa: E402

__all__ = ["start_daemon"]
