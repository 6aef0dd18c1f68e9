"""Structured logs: secrets are masked before encoding, whatever characters they hold; the
API's per-request lines are DEBUG, and at INFO one summary line per interval counts the asks
(with p50/p99 latency), the tells and the failures."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from letta_actors.daemon import Team, create_app, parse_config
from letta_actors.daemon.logs import (
    API_LOGGER,
    MASK,
    JsonFormatter,
    Redacting,
    RequestSummary,
    TextFormatter,
    configure_logging,
)

from .helpers import ECHO_TEAM

# Characters JSON escapes (quote, backslash, tab) and one it may (non-ASCII).
SECRET = 'sk-"quoted"\\back\tslash-é'


def secret_record(message: str, secret: str = SECRET) -> logging.LogRecord:
    entry = logging.LogRecord("letta_actors.test", logging.INFO, __file__, 1, message, None, None)
    entry.actor = f"actor-{secret}"  # an extra field holding it too
    return entry


@pytest.mark.parametrize("secret", [SECRET, "plain-secret-123"])
def test_json_lines_mask_secrets_before_encoding(secret: str) -> None:
    line = JsonFormatter([secret]).format(secret_record(f"connecting with {secret} now", secret))
    assert json.dumps(secret)[1:-1] not in line and secret not in line
    entry = json.loads(line)
    assert entry["message"] == f"connecting with {MASK} now"
    assert entry["actor"] == f"actor-{MASK}"


def test_text_lines_mask_secrets() -> None:
    line = Redacting(TextFormatter(), [SECRET]).format(secret_record(f"key {SECRET}"))
    assert SECRET not in line and f"key {MASK}" in line


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes the process's loggers: put them back afterwards."""
    root, api = logging.getLogger(), logging.getLogger(API_LOGGER)
    saved = (list(root.handlers), root.level, list(api.handlers), api.level)
    yield
    for logger, handlers in ((root, saved[0]), (api, saved[2])):
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        for handler in handlers:
            logger.addHandler(handler)
    root.setLevel(saved[1])
    api.setLevel(saved[3])


def summary_of_api() -> RequestSummary:
    (summary,) = [h for h in logging.getLogger(API_LOGGER).handlers
                  if isinstance(h, RequestSummary)]  # fmt: skip
    return summary


async def exchange(count: int) -> None:
    """``count`` answered asks, one tell and one failed ask over the API."""
    async with Team(parse_config(ECHO_TEAM), env={}) as team:
        transport = httpx.ASGITransport(app=create_app(team))
        async with httpx.AsyncClient(transport=transport, base_url="http://daemon") as client:
            for n in range(count):
                answer = await client.post("/v1/agents/echo/ask", json={"message": n})
                assert answer.status_code == 200
            told = await client.post("/v1/agents/echo/tell", json={"message": "t"})
            assert told.status_code == 202
            failed = await client.post("/v1/agents/failing/ask", json={"message": "x"})
            assert failed.status_code == 502


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.anyio
async def test_at_info_per_request_lines_are_summed_up(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json", summary_interval=3600)
    await exchange(20)
    assert not any("ask answered" in str(e["message"]) for e in json_lines(capsys.readouterr().err))
    summary_of_api().flush()
    (line,) = [e for e in json_lines(capsys.readouterr().err)
               if e["logger"] == "letta_actors.daemon.requests"]  # fmt: skip
    assert line["level"] == "INFO"
    message = str(line["message"])
    assert ": 20 asks answered (p50 " in message and " ms, p99 " in message
    assert ", 1 tells, 1 failed (agent failed: RuntimeError: 1)" in message


@pytest.mark.anyio
async def test_at_debug_every_ask_and_tell_has_its_line(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", "json", summary_interval=3600)
    await exchange(3)
    entries = json_lines(capsys.readouterr().err)
    asked = [e for e in entries if str(e["message"]).startswith("ask answered")]
    assert len(asked) == 3 and {"actor", "message_id", "correlation_id"} <= set(asked[0])
    assert [e["level"] for e in entries if e["message"] == "told"] == ["DEBUG"]


def record(request: str | None, level: int = logging.DEBUG, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord(API_LOGGER, level, __file__, 1, "agent failed", None, None)
    entry.__dict__.update(extra, **({"request": request} if request else {}))
    return entry


def test_one_summary_per_interval_and_none_for_an_idle_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    summary = RequestSummary(60, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="letta_actors.daemon.requests")
    for latency in (0.001, 0.002, 0.003):
        summary.handle(record("ask", latency=latency))
    assert caplog.messages == []  # the interval is not over
    now[0] += 60
    summary.handle(record("tell"))  # the first record after the interval logs the summary
    assert caplog.messages == [
        "requests in the last 60 s: 3 asks answered (p50 2.0 ms, p99 3.0 ms), 1 tells, 0 failed"
    ]
    now[0] += 600
    summary.flush()  # nothing since: nothing logged
    summary.handle(record(None, logging.WARNING))
    summary.close()
    assert caplog.messages[1:] == [
        "requests in the last 0 s: 0 asks answered, 0 tells, 1 failed (agent failed: 1)"
    ]


def test_what_an_interval_keeps_is_bounded() -> None:
    summary = RequestSummary(60, sample=100, clock=lambda: 0.0)
    for n in range(10_000):
        summary.handle(record("ask", latency=n / 1000))
        if n < 50:
            summary.handle(record(None, logging.WARNING, msg=f"failure {n}"))
    assert len(summary._latencies) == 100
    assert len(summary._failures) == RequestSummary.MAX_KINDS + 1  # "other" for the rest
    assert summary._failures["other"] == 50 - RequestSummary.MAX_KINDS
    line = summary.line(0.0)
    assert line is not None and line.startswith("requests in the last 0 s: 10000 asks answered")


def test_a_summary_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        RequestSummary(0)
