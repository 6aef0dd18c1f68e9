"""A logging filter that puts the current trace and span ids on every record."""

from __future__ import annotations

import logging

try:
    from opentelemetry import trace
except ImportError:  # the `otel` extra is not installed: records carry no ids
    trace = None  # type: ignore[assignment]


class TraceContextFilter(logging.Filter):
    """Sets ``trace_id`` and ``span_id`` (lower-case hex, as OTLP backends show them) on each
    record logged while a span is current, e.g. while an actor handles a traced message.
    Without a current span (or without OpenTelemetry installed) the record is left as it is.
    Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if trace is not None:
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                record.trace_id = format(context.trace_id, "032x")
                record.span_id = format(context.span_id, "016x")
        return True
