"""The daemon's log lines carry the trace and span ids of the span current when logged."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from letta_actors.daemon.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_log_lines_carry_trace_and_span_ids(fmt: str) -> None:
    handler = configure_logging("INFO", fmt)
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    handler.setStream(out)
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("test")
    log = logging.getLogger("tests.tracing.logs")
    log.info("outside")
    with tracer.start_as_current_span("work") as span:
        log.info("inside")
    context = span.get_span_context()
    outside, inside = out.getvalue().splitlines()
    ids = {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}
    if fmt == "json":
        assert ids.items() <= json.loads(inside).items()
        assert "trace_id" not in json.loads(outside)
    else:
        assert inside.endswith(f"[trace_id={ids['trace_id']} span_id={ids['span_id']}]")
        assert "trace_id" not in outside
