"""The daemon: a team and its HTTP API in one process, with a graceful stop.

The first SIGTERM or SIGINT stops accepting work (new requests get 503), waits up to
``team.shutdown_timeout`` for the asks and runs in flight, stops the HTTP server, then stops the
actors in reverse start order, each draining its mailbox (within ``team.shutdown_timeout``).
A second signal stops at once. Either way, what was not finished (runs cancelled or timed out,
requests refused, dead letters) is printed as one JSON line on stdout (``"event":
"shutdown_report"``); the exit code is 0 after a graceful stop, 1 after a forced one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import uvicorn

from .api import create_app
from .config import TeamConfig, _loopback
from .team import Team

log = logging.getLogger("letta_actors.daemon")


class StartupRefused(Exception):
    """The daemon will not start with this configuration and environment (exit code 2)."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the daemon handles the signals itself


def api_token(config: TeamConfig, env: Mapping[str, str], host: str) -> str | None:
    """The bearer token from ``api.token_env``; refuses a listener beyond loopback without."""
    token = env.get(config.api.token_env) or None
    if token is None and not _loopback(host):
        raise StartupRefused(
            f"the API listens on {host}, beyond loopback: set a bearer token in the "
            f"environment variable {config.api.token_env}"
        )
    return token


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupRefused(f"cannot listen on {host}:{port}: {exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Daemon:
    """Runs a team and its API until stopped by a signal (see the module docstring)."""

    def __init__(
        self,
        config: TeamConfig,
        *,
        base_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        host: str | None = None,
        port: int | None = None,
        ready_file: Path | None = None,
    ) -> None:
        self.config = config
        self.base_dir = base_dir
        self.env = os.environ if env is None else env
        self.host = host or config.api.host
        self.port = config.api.port if port is None else port
        self.ready_file = ready_file
        self.token = api_token(config, self.env, self.host)
        self.forced = False
        self.report: dict[str, Any] = {}
        self._stop: anyio.Event | None = None

    async def run(self) -> int:
        self._stop = anyio.Event()
        sock = bind(self.host, self.port) if self.config.api.enabled else None
        hard = anyio.CancelScope()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._signals, hard)
                with hard:
                    await self._serve(sock)
                tg.cancel_scope.cancel()
        finally:
            if sock is not None:
                sock.close()
        print(
            json.dumps(
                {"event": "shutdown_report", "forced": self.forced, **self.report}, default=str
            ),
            flush=True,
        )
        return 1 if self.forced else 0

    async def _signals(self, hard: anyio.CancelScope) -> None:
        assert self._stop is not None
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                if not self._stop.is_set():
                    log.info("%s: stopping (again to stop at once)", name)
                    self._stop.set()
                else:
                    log.warning("%s again: stopping at once", name)
                    self.forced = True
                    hard.cancel()
                    return

    async def _serve(self, sock: socket.socket | None) -> None:
        assert self._stop is not None
        team = Team(self.config, base_dir=self.base_dir, env=self.env)
        try:
            async with team, anyio.create_task_group() as tg:
                server: _Server | None = None
                if sock is not None:
                    app = create_app(team, token=self.token)
                    server = _Server(
                        uvicorn.Config(
                            app,
                            log_config=None,
                            access_log=False,
                            lifespan="off",
                            timeout_graceful_shutdown=5,
                        )
                    )
                    tg.start_soon(server.serve, [sock])
                metrics = self.config.metrics
                if team.metrics is not None and metrics.port is not None:
                    await tg.start(team.metrics.serve, metrics.host, metrics.port)
                url = self._announce(sock)
                log.info("ready: %s", url)
                await self._stop.wait()
                team.stop_accepting()
                budget = self.config.team.shutdown_timeout
                if not await team.wait_idle(budget):
                    given_up = team.abandon_asks()
                    log.warning(
                        "stop deadline (%g s) passed: %d asks given up, %d runs cancelled",
                        budget,
                        given_up,
                        len(team.runs.running()),
                    )
                    await team.cancel_runs()
                if server is not None:
                    server.should_exit = True
        finally:
            self.report = team.unfinished()

    def _announce(self, sock: socket.socket | None) -> str:
        url = ""
        if sock is not None:
            host, port = sock.getsockname()[:2]
            url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        if self.ready_file is not None:
            data = json.dumps({"url": url, "pid": os.getpid()})
            tmp = self.ready_file.with_suffix(".tmp")
            tmp.write_text(data)
            tmp.replace(self.ready_file)
        return url


def run_daemon(daemon: Daemon) -> int:
    """Run on asyncio (uvicorn's loop); returns the exit code."""
    code: int = anyio.run(daemon.run)
    sys.stdout.flush()
    return code
