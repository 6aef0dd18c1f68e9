"""Installing tracing on one system: its own tracer provider, processor and OTLP exporter."""

from __future__ import annotations

import os
from types import TracebackType
from typing import TYPE_CHECKING, Self

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from ._hook import OtelTracer

if TYPE_CHECKING:
    from ..system import ActorSystem

#: The instrumentation scope of every span.
SCOPE = "letta_actors"
DEFAULT_SERVICE_NAME = "letta-actors"


def _exporter(endpoint: str | None) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint)


class SystemTracing:
    """Tracing installed on one :class:`~letta_actors.ActorSystem` (see
    :func:`install_tracing`). :meth:`close` (or leaving the ``with`` block) takes the hook off
    the system, exports what is still buffered (within the processor's export timeout) and
    shuts the provider down; a span still open then is not exported. Closing twice does
    nothing."""

    def __init__(self, system: ActorSystem, provider: TracerProvider) -> None:
        self.system = system
        self.provider = provider
        self.hook = OtelTracer(provider.get_tracer(SCOPE))
        self.closed = False

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export the finished spans now; False if that did not finish within the timeout."""
        return self.provider.force_flush(timeout_millis)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.system.tracer is self.hook:
            self.system.tracer = None
        self.provider.shutdown()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def install_tracing(
    system: ActorSystem,
    *,
    endpoint: str | None = None,
    service_name: str | None = None,
    processor: SpanProcessor | None = None,
    provider: TracerProvider | None = None,
) -> SystemTracing:
    """Trace ``system``: a span per message handled, supervisor restart, Letta request and
    pattern run / step, exported over OTLP (HTTP/protobuf).

    By default a new :class:`TracerProvider` of this system only (never the global one) with a
    ``BatchSpanProcessor`` and an ``OTLPSpanExporter``, both configured by the standard
    ``OTEL_*`` variables (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``..._ENDPOINT``,
    ``..._HEADERS``, ``..._TIMEOUT``, ``OTEL_BSP_*``, ``OTEL_TRACES_SAMPLER``,
    ``OTEL_RESOURCE_ATTRIBUTES``). ``endpoint`` (the full ``.../v1/traces`` URL) overrides
    the variables; ``service_name`` overrides ``OTEL_SERVICE_NAME`` (default
    ``letta-actors``). ``processor`` replaces the batch processor and exporter (e.g. an
    in-memory exporter in tests); ``provider`` replaces the provider (it is shut down by
    :meth:`SystemTracing.close` too).

    Raises ``RuntimeError`` if the system already has a tracer.
    """
    if system.tracer is not None:
        raise RuntimeError(f"actor system {system.name!r} already has a tracer")
    if provider is None:
        name = service_name or os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
        provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: name}), shutdown_on_exit=False
        )
        provider.add_span_processor(processor or BatchSpanProcessor(_exporter(endpoint)))
    elif processor is not None:
        provider.add_span_processor(processor)
    tracing = SystemTracing(system, provider)
    system.tracer = tracing.hook
    return tracing
