"""Structured logs: secrets are masked before encoding, whatever characters they hold."""

from __future__ import annotations

import json
import logging

import pytest

from letta_actors.daemon.logs import MASK, JsonFormatter, Redacting, TextFormatter

# Characters JSON escapes (quote, backslash, tab) and one it may (non-ASCII).
SECRET = 'sk-"quoted"\\back\tslash-é'


def record(message: str, secret: str = SECRET) -> logging.LogRecord:
    entry = logging.LogRecord("letta_actors.test", logging.INFO, __file__, 1, message, None, None)
    entry.actor = f"actor-{secret}"  # an extra field holding it too
    return entry


@pytest.mark.parametrize("secret", [SECRET, "plain-secret-123"])
def test_json_lines_mask_secrets_before_encoding(secret: str) -> None:
    line = JsonFormatter([secret]).format(record(f"connecting with {secret} now", secret))
    assert json.dumps(secret)[1:-1] not in line and secret not in line
    entry = json.loads(line)
    assert entry["message"] == f"connecting with {MASK} now"
    assert entry["actor"] == f"actor-{MASK}"


def test_text_lines_mask_secrets() -> None:
    line = Redacting(TextFormatter(), [SECRET]).format(record(f"key {SECRET}"))
    assert SECRET not in line and f"key {MASK}" in line
