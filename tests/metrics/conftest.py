"""Fixtures of the metrics tests: both anyio backends, and the Prometheus tools (required).

``promtool`` and ``prometheus`` come from the Debian package ``prometheus``
(``apt-get install -y prometheus``). When they are missing the tests that need them FAIL with
the install command: CI installs them, so a silent skip would hide a broken set-up.
"""

from __future__ import annotations

import pytest

from .helpers import require_tool


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return require_tool("prometheus")
