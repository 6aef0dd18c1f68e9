"""Structured logs: text or one JSON object per line, with the actor, message id, correlation
id, run id, and trace and span ids of each record when known, and every configured secret
masked.

The API logs each answered ask and each tell at DEBUG; at INFO a :class:`RequestSummary` line
per interval says how many there were, their latency (p50, p99) and the failures.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable

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


#: The logger of the API's per-request lines and of :class:`RequestSummary`'s lines.
API_LOGGER = "letta_actors.daemon.api"
SUMMARY_LOGGER = "letta_actors.daemon.requests"


class RequestSummary(logging.Handler):
    """Counts the API's per-request records and logs one INFO line per ``interval`` seconds.

    Records with ``extra={"request": "ask", "latency": s}`` count as answered asks, with
    ``"request": "tell"`` as tells; WARNING and above as failures, by message. The summary
    (on :data:`SUMMARY_LOGGER`) is logged by the first record after the interval ends, so an
    interval without requests logs nothing; :meth:`flush` (called on close, e.g. at exit) logs
    what is pending. Latency percentiles come from at most ``sample`` asks per interval
    (a uniform sample beyond that), and failures beyond :attr:`MAX_KINDS` messages count as
    ``other``, so memory stays bounded at any rate.
    """

    MAX_KINDS = 20

    def __init__(
        self,
        interval: float = 60.0,
        *,
        sample: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"summary interval must be > 0, got {interval}")
        super().__init__(logging.DEBUG)
        self.interval = interval
        self.sample = sample
        self.clock = clock
        self._out = logging.getLogger(SUMMARY_LOGGER)
        self._random = random.Random(0)
        self._reset(clock())

    def _reset(self, now: float) -> None:
        self._since = now
        self._asks = self._tells = 0
        self._latencies: list[float] = []
        self._failures: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        kind = getattr(record, "request", None)
        if kind == "ask":
            self._asks += 1
            latency = getattr(record, "latency", None)
            if isinstance(latency, float):
                self._keep(latency)
        elif kind == "tell":
            self._tells += 1
        elif record.levelno >= logging.WARNING:
            message = record.getMessage()[:80]
            if message not in self._failures and len(self._failures) >= self.MAX_KINDS:
                message = "other"
            self._failures[message] += 1
        now = self.clock()
        if now - self._since >= self.interval:
            self._log(now)

    def _keep(self, latency: float) -> None:
        if len(self._latencies) < self.sample:
            self._latencies.append(latency)
            return
        slot = self._random.randrange(self._asks)  # reservoir sampling
        if slot < self.sample:
            self._latencies[slot] = latency

    def line(self, now: float) -> str | None:
        """The summary of the interval so far (None when there was no request)."""
        failed = sum(self._failures.values())
        if not (self._asks or self._tells or failed):
            return None
        text = f"requests in the last {now - self._since:.0f} s: {self._asks} asks answered"
        if self._latencies:
            ordered = sorted(self._latencies)
            p50 = ordered[(len(ordered) - 1) // 2] * 1000
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
            text += f" (p50 {p50:.1f} ms, p99 {p99:.1f} ms)"
        text += f", {self._tells} tells, {failed} failed"
        if failed:
            worst = ", ".join(f"{m}: {n}" for m, n in self._failures.most_common(5))
            text += f" ({worst})"
        return text

    def _log(self, now: float) -> None:
        text = self.line(now)
        self._reset(now)
        if text is not None:
            self._out.info(text)

    def flush(self) -> None:
        """Log the summary of the interval so far, if it had requests."""
        self._log(self.clock())

    def close(self) -> None:
        self.flush()
        super().close()


def configure_logging(
    level: str, fmt: str, secrets: Iterable[str] = (), *, summary_interval: float = 60.0
) -> logging.Handler:
    """Log to stderr at ``level`` as ``text`` or ``json``, masking ``secrets``, with a
    :class:`RequestSummary` of the API every ``summary_interval`` s; replaces the root logger's
    handlers (and a previous summary). Returns the stderr handler."""
    secrets = list(secrets)
    formatter: logging.Formatter = (
        JsonFormatter(secrets) if fmt == "json" else Redacting(TextFormatter(), secrets)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.setLevel(level)
    handler.addFilter(TraceContextFilter())  # trace_id / span_id while a span is current
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    api = logging.getLogger(API_LOGGER)
    for old in [h for h in api.handlers if isinstance(h, RequestSummary)]:
        api.removeHandler(old)
        old.close()
    api.addHandler(RequestSummary(summary_interval))
    api.setLevel(logging.DEBUG)  # the summary counts the DEBUG lines; the handler filters them
    for noisy in ("httpx", "httpcore", "letta_actors.http"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
