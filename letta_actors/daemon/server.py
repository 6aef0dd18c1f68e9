"""The daemon: a team and its HTTP API in one process, with a graceful stop.

The API (and the metrics listener, when ``[metrics]`` has a port of its own) is served by
hypercorn on the chosen backend, asyncio or Trio. The first SIGTERM or SIGINT stops accepting
work (new requests get 503), waits up to ``team.shutdown_timeout`` for the asks and runs in
flight, stops every listener, then stops the actors in reverse start order, each draining its
mailbox within ``team.shutdown_timeout`` (unless the agent declares its own ``shutdown``).
The same signal repeated within :data:`REPEAT_WINDOW` seconds (``timeout``, a process-group
kill) is the same request; a signal after that stops at once. Either way, what was not
finished (runs cancelled or timed out, requests refused, dead letters, by the API's
``message_id``) is printed as one JSON line on stdout (``"event": "shutdown_report"``); the
exit code is 0 after a graceful stop, 1 after a forced one.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
from anyio.abc import TaskGroup

from .._net import is_loopback
from ..metrics import HttpLimits, listen, make_path_app, serve_asgi
from ..team import Team, TeamConfig
from .api import create_app
from .middleware import BearerAuth

log = logging.getLogger("letta_actors.daemon")

#: Seconds after a first stop signal during which the same signal again is the same request.
REPEAT_WINDOW = 1.0

Backend = Literal["asyncio", "trio"]


class StartupRefused(Exception):
    """The daemon will not start with this configuration and environment (exit code 2)."""


def api_token(config: TeamConfig, env: Mapping[str, str], host: str) -> str | None:
    """The bearer token from ``api.token_env``; refuses any listener (the API on ``host``, the
    metrics listener) beyond loopback without one."""
    token = env.get(config.api.token_env) or None
    listeners = []
    if config.api.enabled:
        listeners.append(("the API", host))
    if config.metrics.enabled and config.metrics.port is not None:
        listeners.append(("the metrics listener", config.metrics.host))
    for what, where in listeners:
        if token is None and not is_loopback(where):
            raise StartupRefused(
                f"{what} listens on {where}, beyond loopback: set a bearer token in the "
                f"environment variable {config.api.token_env}"
            )
    return token


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; :class:`StartupRefused` when it cannot be bound."""
    try:
        return listen(host, port)
    except OSError as exc:
        raise StartupRefused(f"cannot listen on {host}:{port}: {exc}") from None


def _url(sock: socket.socket, path: str = "") -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"


class Daemon:
    """Runs ``team`` (not entered yet) and its API until stopped by a signal (see the module
    docstring); ``host`` and ``port`` override the file's ``[api]``."""

    def __init__(
        self,
        team: Team,
        *,
        host: str | None = None,
        port: int | None = None,
        ready_file: Path | None = None,
        backend: Backend = "asyncio",
    ) -> None:
        config = self.config = team.config
        self.team = team
        self.host = host or config.api.host
        self.port = config.api.port if port is None else port
        self.ready_file = ready_file
        self.backend = backend
        if backend != "asyncio" and config.cluster is not None:
            raise StartupRefused(
                f"cluster mode needs asyncio (nats-py is asyncio-only): not --backend {backend}"
            )
        self.token = api_token(config, self.team.env, self.host)
        api = config.api
        self.limits = HttpLimits(
            max_head_bytes=api.max_head_bytes, idle_timeout=api.idle_timeout,
            graceful_timeout=min(5.0, config.team.shutdown_timeout),
        )  # fmt: skip
        self.forced = False
        self.report: dict[str, Any] = {}
        self._stop: anyio.Event | None = None

    async def run(self) -> int:
        """Serve until stopped; raises :class:`ConfigError` (a factory that cannot be imported
        or called with its ``args``) and :class:`StartupRefused` (a port that cannot be bound)
        before starting anything."""
        self._stop = anyio.Event()
        self.team.import_factories()
        sockets: list[socket.socket] = []
        try:
            api = metrics = None
            if self.config.api.enabled:
                api = bind(self.host, self.port)
                sockets.append(api)
            if self.config.metrics.enabled and self.config.metrics.port is not None:
                metrics = bind(self.config.metrics.host, self.config.metrics.port)
                sockets.append(metrics)
            hard = anyio.CancelScope()
            failure: Exception | None = None
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._signals, hard)
                try:
                    with hard:
                        await self._serve(api, metrics)
                except Exception as exc:  # raised as itself below, not in an exception group
                    failure = exc
                tg.cancel_scope.cancel()
            if failure is not None:
                raise failure
        finally:
            for sock in sockets:
                sock.close()  # a no-op once a server took it over
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
                log.info("%s: stopping", signal.Signals(signum).name)
                self._stop.set()
                break
            with anyio.move_on_after(REPEAT_WINDOW):
                async for signum in signals:
                    log.info("%s again: the same stop request", signal.Signals(signum).name)
            log.info("stopping; a further SIGTERM or SIGINT stops at once")
            async for signum in signals:
                log.warning("%s again: stopping at once", signal.Signals(signum).name)
                self.forced = True
                hard.cancel()
                return

    async def _serve(self, api: socket.socket | None, metrics: socket.socket | None) -> None:
        assert self._stop is not None
        team = self.team
        urls = {
            "url": _url(api) if api is not None else "",
            "metrics_url": _url(metrics, "/metrics") if metrics is not None else None,
        }
        try:
            # The servers' task group ends (every listener stopped, gracefully) before the
            # team stops its actors.
            async with team, anyio.create_task_group() as servers:
                stopped = anyio.Event()
                self._start_servers(servers, team, api, metrics, stopped)
                self._announce(urls)
                log.info("ready: %s", urls["url"])
                await self._stop.wait()
                await self._finish_work(team)
                stopped.set()
        finally:
            self.report = team.unfinished()

    def _start_servers(
        self,
        tg: TaskGroup,
        team: Team,
        api: socket.socket | None,
        metrics: socket.socket | None,
        stopped: anyio.Event,
    ) -> None:
        serve = partial(serve_asgi, limits=self.limits, shutdown_trigger=stopped.wait)
        if api is not None:
            tg.start_soon(serve, create_app(team, token=self.token), api)
        if metrics is not None and team.metrics is not None:
            app = make_path_app(team.metrics.asgi_app(), "/metrics")
            tg.start_soon(serve, BearerAuth(app, self.token) if self.token else app, metrics)

    async def _finish_work(self, team: Team) -> None:
        """Refuse new work, and give what was taken ``shutdown_timeout`` to finish."""
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

    def _announce(self, urls: Mapping[str, str | None]) -> None:
        if self.ready_file is not None:
            data = json.dumps({**urls, "pid": os.getpid()})
            tmp = self.ready_file.with_suffix(".tmp")
            tmp.write_text(data)
            tmp.replace(self.ready_file)


def run_daemon(daemon: Daemon) -> int:
    """Run on the daemon's backend (asyncio or Trio); returns the exit code."""
    code: int = anyio.run(daemon.run, backend=daemon.backend)
    sys.stdout.flush()
    return code
