"""The daemon as a subprocess (``letta-actors run``), for the demo and the tests that drive it.

Started in its own session, so a Ctrl-C meant for the demo does not reach it: the demo stops it
with one SIGTERM (a graceful stop) when it is done.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Seconds a daemon gets to start (it creates the team's Letta agents first).
START_TIMEOUT = 300.0


@dataclass
class DaemonProcess:
    """A running daemon: its process, its URL and its log file (stderr)."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, timeout: float = 120.0) -> tuple[int, str | None]:
        """SIGTERM, then wait up to ``timeout`` s (killed after); returns the exit code and
        the daemon's shutdown report (its JSON line on stdout), if it printed one."""
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        lines = out.decode(errors="replace").splitlines()
        report = next((line for line in lines if "shutdown_report" in line), None)
        return self.process.returncode, report


def start_daemon(
    config: Path,
    workdir: Path,
    *,
    port: int = 0,
    env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> DaemonProcess:
    """Run ``letta-actors run CONFIG`` and return once it is ready (it wrote its ready file);
    raises :class:`RuntimeError` with the end of its log when it exits first or takes longer
    than ``timeout`` s (it is killed then)."""
    ready = workdir / "ready.json"
    log = workdir / "daemon.log"
    command = [sys.executable, "-m", "letta_actors.daemon", "run", str(config),
               "--port", str(port), "--ready-file", str(ready)]  # fmt: skip
    with log.open("wb") as err:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=err,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the daemon did not start:\n{tail}")
        time.sleep(0.2)
    return DaemonProcess(process, str(json.loads(ready.read_text())["url"]), log)
