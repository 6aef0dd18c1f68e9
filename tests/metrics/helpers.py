"""Actors, parsing and waiting helpers for the metrics tests."""

from __future__ import annotations

import itertools
import math
import os
import shutil
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families

from letta_actors import Actor, ActorState, ActorSystem

from ..helpers import wait_until

INSTALL = "apt-get update && apt-get install -y prometheus"

Key = tuple[str, frozenset[tuple[str, str]]]
Samples = dict[Key, float]


def require_tool(name: str) -> str:
    """The path of ``name`` (``PROMTOOL`` / ``PROMETHEUS`` may point elsewhere), or FAIL."""
    path = os.environ.get(name.upper()) or shutil.which(name)
    if not path:
        pytest.fail(
            f"{name} is not installed: the metrics tests need the real Prometheus tools. "
            f"Install them with: {INSTALL}",
            pytrace=False,
        )
    return path


class Boom(Exception):
    """What :class:`Worker` raises on ``"boom"``."""


class Hold:
    """A message that makes :class:`Worker` wait until :meth:`release` (after ``entered``)."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.released = anyio.Event()

    def release(self) -> None:
        self.released.set()


class Worker(Actor):
    """Echoes; raises :class:`Boom` on ``"boom"``; blocks on a :class:`Hold`."""

    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise Boom("boom")
        if isinstance(message, Hold):
            message.entered.set()
            await message.released.wait()
        return message


class Other(Actor):
    async def receive(self, message: Any) -> Any:
        return message


def parse(text: bytes | str) -> Samples:
    """Samples of a text-format scrape, keyed by (sample name, label set)."""
    if isinstance(text, bytes):
        text = text.decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name, frozenset(s.labels.items())] = s.value
    return out


def parse_om(text: bytes | str) -> Samples:
    """Samples of an OpenMetrics scrape (the parser validates the format strictly)."""
    if isinstance(text, bytes):
        text = text.decode()
    out: Samples = {}
    for family in parse_openmetrics(text):  # type: ignore[no-untyped-call]
        for s in family.samples:
            out[s.name, frozenset(s.labels.items())] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    if key not in samples:
        near = sorted(str(dict(k[1])) for k in samples if k[0] == name)[:10]
        raise AssertionError(f"no sample {name}{labels}; {name} has {near}")
    return samples[key]


def series(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for n, labels in samples if n == name]


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]], *, timeout: float = 10.0, what: str = ""
) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds (never a fixed sleep)."""
    await wait_until(condition, timeout=timeout, what=what)


async def wait_restarted(system: ActorSystem, name: str, restarts: int) -> None:
    def done() -> bool:
        cell = system.cell(name)
        return (
            cell is not None
            and cell.stats.restarts >= restarts
            and cell.state is ActorState.RUNNING
        )

    await wait_for(done, what=f"{name} restarted {restarts} time(s)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def is_cumulative(buckets: list[tuple[float, float]]) -> bool:
    ordered = sorted(buckets)
    return ordered[-1][0] == math.inf and all(a[1] <= b[1] for a, b in itertools.pairwise(ordered))
