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
    :data:`FIELDS` present, and ``exception`` (the traceback) if any. Each ``secrets`` value
    is replaced by :data:`MASK` in every text *before* it is encoded, so a secret that JSON
    would escape (quotes, backslashes, control or non-ASCII characters) is masked too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = _longest_first(secrets)

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
        if self.secrets:
            entry = {k: _mask(v, self.secrets) if isinstance(v, str) else v
                     for k, v in entry.items()}  # fmt: skip
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


def _longest_first(secrets: Iterable[str]) -> list[str]:
    return sorted({s for s in secrets if s}, key=len, reverse=True)


def _mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class Redacting(logging.Formatter):
    """Wraps a text formatter and replaces every secret in its output with :data:`MASK`."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = _longest_first(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return _mask(self.inner.format(record), self.secrets)


def configure_logging(level: str, fmt: str, secrets: Iterable[str] = ()) -> logging.Handler:
    """Log to stderr at ``level`` as ``text`` or ``json``, masking ``secrets``; replaces the
    root logger's handlers. Returns the handler."""
    secrets = list(secrets)
    formatter: logging.Formatter = (
        JsonFormatter(secrets) if fmt == "json" else Redacting(TextFormatter(), secrets)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(TraceContextFilter())  # trace_id / span_id while a span is current
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "letta_actors.http"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
