"""The OpenTelemetry implementation of the runtime's tracing hook (one per system).

It creates spans with the system's own tracer (from its own tracer provider), carries the trace
context in envelopes as W3C headers (``traceparent``, ``tracestate``), and makes each span
current in the task that runs its block, so what the block sends, asks and requests joins it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ..actors import Attributes, AttributeValue, Receive
from ..actors import SpanKind as HookSpanKind

if TYPE_CHECKING:
    from ..actors import ActorCell, Envelope

#: The attribute every span of letta-actors carries: ``ok``, ``error``, ``cancelled``, or a
#: pattern run's status.
OUTCOME = "letta_actors.outcome"

_KINDS = {"internal": SpanKind.INTERNAL, "client": SpanKind.CLIENT, "consumer": SpanKind.CONSUMER}
_PROPAGATOR = TraceContextTextMapPropagator()  # stateless: W3C trace context only


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class SpanHandle:
    """The span of a block; see :class:`letta_actors.actors._tracing.SpanHandle`."""

    __slots__ = ("_outcome", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self._outcome: str | None = None

    def set(self, key: str, value: AttributeValue) -> None:
        self.span.set_attribute(key, value)

    def outcome(self, value: str, error: str | None = None) -> None:
        self._outcome = value
        self.span.set_attribute(OUTCOME, value)
        if error is not None:
            self.span.set_status(Status(StatusCode.ERROR, error))

    def headers(self) -> dict[str, str]:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, trace.set_span_in_context(self.span))
        return carrier

    def finish(self, exc: BaseException | None) -> None:
        """Record how the block ended (unless :meth:`outcome` already did), then end."""
        if self._outcome is None:
            if exc is None:
                self.outcome("ok")
            elif isinstance(exc, Exception):
                self.span.record_exception(exc)
                self.outcome("error", _describe(exc))
            else:
                self.outcome("cancelled")
        self.span.end()


class OtelTracer:
    """The tracing hook of one system: spans from ``tracer``, nothing global."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    # -- the core's hook points -------------------------------------------------------------

    def capture(self) -> dict[str, str] | None:
        if not trace.get_current_span().get_span_context().is_valid:
            return None
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier

    def handler(self, cell: ActorCell, envelope: Envelope, receive: Receive) -> Receive:
        # The parent is what the sender had current; a message sent outside any span starts a
        # trace of its own (not a child of whatever the actor's task inherited).
        carrier = envelope.trace
        parent = _PROPAGATOR.extract(carrier) if carrier else Context()
        attributes: dict[str, AttributeValue] = {
            "letta_actors.actor": cell.name,
            "letta_actors.message.id": envelope.id,
            "letta_actors.message.kind": "ask" if envelope.reply_to is not None else "tell",
            "letta_actors.message.attempt": envelope.attempt,
        }
        if envelope.correlation_id is not None:
            attributes["letta_actors.message.correlation_id"] = envelope.correlation_id
        if envelope.sender is not None:
            attributes["letta_actors.message.sender"] = envelope.sender
        if envelope.topic is not None:
            attributes["letta_actors.message.topic"] = envelope.topic
        if cell.actor_class is not None:
            attributes["letta_actors.actor.class"] = cell.actor_class

        async def handle(payload: Any) -> Any:
            with self._current(f"handle {cell.name}", parent, attributes, SpanKind.CONSUMER):
                return await receive(payload)

        return handle

    def restart(
        self,
        supervisor: str,
        failed: str,
        restarted: Sequence[str],
        *,
        strategy: str,
        delay: float,
        error: str | None,
    ) -> None:
        attributes: dict[str, AttributeValue] = {
            "letta_actors.supervisor": supervisor,
            "letta_actors.actor": failed,
            "letta_actors.restart.actors": list(restarted),
            "letta_actors.restart.strategy": strategy,
            "letta_actors.restart.delay": delay,
        }
        if error is not None:
            attributes["letta_actors.restart.error"] = error
        span = self.tracer.start_span(f"restart {failed}", attributes=attributes)
        span.set_attribute(OUTCOME, "ok")
        span.end()

    # -- for the integrations ---------------------------------------------------------------

    def span(
        self, name: str, attributes: Attributes | None = None, *, kind: HookSpanKind = "internal"
    ) -> AbstractContextManager[SpanHandle]:
        return self._current(name, otel_context.get_current(), attributes, _KINDS[kind])

    def event(self, name: str, attributes: Attributes | None = None) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(name, attributes)

    # -- helpers --------------------------------------------------------------------------

    @contextmanager
    def _current(
        self, name: str, parent: Context, attributes: Attributes | None, kind: SpanKind
    ) -> Iterator[SpanHandle]:
        span = self.tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
        handle = SpanHandle(span)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            yield handle
        except BaseException as exc:
            handle.finish(exc)
            raise
        else:
            handle.finish(None)
        finally:
            otel_context.detach(token)
