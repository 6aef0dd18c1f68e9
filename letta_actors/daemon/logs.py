"""Structured logs: text or one JSON object per line, with the actor, message id, correlation
id, run id, and trace and span ids of each record when known, and every configured secret
masked."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable

from ..tracing import TraceContextFilter

#: Extra fields a record may carry (``log.info(..., extra={"actor": name})``).
FIELDS = ("actor", "message_id", "correlation_id", "run_id", "workflow", "trace_id", "span_id")
MASK = "***"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``message``, the known
    :data:`FIELDS` present, and ``exception`` (the traceback) if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message [field=value ...]``."""

    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        fields = " ".join(
            f"{f}={getattr(record, f)}" for f in FIELDS if getattr(record, f, None) is not None
        )
        line = f"{when} {record.levelname} {record.name}: {record.getMessage()}"
        line += f" [{fields}]" if fields else ""
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class Redacting(logging.Formatter):
    """Wraps a formatter and replaces every secret in its output with :data:`MASK`."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def configure_logging(level: str, fmt: str, secrets: Iterable[str] = ()) -> logging.Handler:
    """Log to stderr at ``level`` as ``text`` or ``json``, masking ``secrets``; replaces the
    root logger's handlers. Returns the handler."""
    inner: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Redacting(inner, secrets))
    handler.addFilter(TraceContextFilter())  # trace_id / span_id while a span is current
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
