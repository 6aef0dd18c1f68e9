"""A real daemon process: ``start_daemon(text, env=...)`` runs ``letta-actors run`` on a team
file and returns once it wrote its ready file; every daemon started is killed at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .helpers import REPO, wait_for


@dataclass
class DaemonProcess:
    process: subprocess.Popen[bytes]
    url: str
    stdout: Path
    stderr: Path
    metrics_url: str | None = None

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def logged(self, text: str) -> bool:
        return text in self.stderr.read_text()

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout=timeout)

    def report(self) -> dict[str, object]:
        """The shutdown report (the JSON line on stdout)."""
        for line in self.stdout.read_text().splitlines():
            if line.startswith("{") and '"shutdown_report"' in line:
                report: dict[str, object] = json.loads(line)
                return report
        raise AssertionError(f"no shutdown report; stderr:\n{self.stderr.read_text()}")

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``letta-actors ARGS`` (as ``python -m letta_actors.daemon``)."""
    return subprocess.run(
        [sys.executable, "-m", "letta_actors.daemon", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


StartDaemon = Callable[..., DaemonProcess]


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[StartDaemon]:
    started: list[DaemonProcess] = []

    def start(text: str, *args: str, env: dict[str, str] | None = None) -> DaemonProcess:
        index = len(started)
        config = tmp_path / f"team{index}.toml"
        config.write_text(text)
        ready = tmp_path / f"ready{index}.json"
        out, err = tmp_path / f"out{index}.txt", tmp_path / f"err{index}.txt"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "letta_actors.daemon", "run", str(config),
                 "--ready-file", str(ready), *args],
                cwd=REPO, env={**os.environ, **(env or {})}, stdout=stdout, stderr=stderr,
            )  # fmt: skip
        daemon = DaemonProcess(process, "", out, err)
        started.append(daemon)

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"daemon exited {process.returncode}:\n{err.read_text()}")
            return ready.exists()

        wait_for(up, timeout=30, what="the daemon's ready file")
        announced = json.loads(ready.read_text())
        daemon.url, daemon.metrics_url = announced["url"], announced.get("metrics_url")
        return daemon

    yield start
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(timeout=10)
