"""Programmatic control of a real Letta 0.16.8 server.

``LettaServer.start()`` installs Letta into its own venv if needed (minutes,
once), starts the embedded PostgreSQL, creates the schema (once per data dir)
and runs ``letta server`` as a child process whose output goes to
``logs/letta-server.log``. If a healthy Letta server already answers on the
port, it is reused: nothing is started, and ``stop()``/``kill()`` leave it alone.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

import httpx

from letta_actors.localstack.letta_install import ensure_installed
from letta_actors.localstack.paths import StackPaths
from letta_actors.localstack.postgres import EmbeddedPostgres
from letta_actors.localstack.processes import kill, spawn, terminate, wait_until

# Provider keys that would make Letta try to reach real services.
_SCRUBBED_ENV = (
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GROQ_API_KEY",
    "TOGETHER_API_KEY",
    "MISTRAL_API_KEY",
    "OLLAMA_BASE_URL",
    "AZURE_API_KEY",
    "LETTA_PG_URI",
    "OPENAI_API_BASE",
)


@dataclass
class LettaServerConfig:
    """How to run the server. ``openai_base_url`` is an OpenAI base URL (ending in ``/v1``)."""

    openai_base_url: str
    openai_api_key: str = "scripted-key"
    host: str = "127.0.0.1"
    port: int = 8283
    paths: StackPaths = field(default_factory=StackPaths.default)
    startup_timeout: float = 240.0
    stop_grace_seconds: float = 15.0


class LettaServer:
    """One Letta server (plus its PostgreSQL) on ``config.host:config.port``."""

    def __init__(self, config: LettaServerConfig) -> None:
        self.config = config
        self.paths = config.paths
        self._proc: subprocess.Popen[bytes] | None = None
        self._postgres: EmbeddedPostgres | None = None
        self.reused = False

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    @property
    def health_url(self) -> str:
        return f"{self.base_url}/v1/health/"

    @property
    def log_file(self) -> str:
        return str(self.paths.log("letta-server"))

    @property
    def pid(self) -> int | None:
        """Pid of the server process started here (None when reused or stopped)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def is_healthy(self) -> bool:
        """True when ``GET /v1/health/`` answers ``status: ok``."""
        try:
            resp = httpx.get(self.health_url, timeout=3.0)
            return resp.is_success and resp.json().get("status") == "ok"
        except (httpx.HTTPError, ValueError):
            return False

    def start(self) -> None:
        """Start the server (or reuse a healthy one on the port); wait until healthy.

        Raises :class:`~letta_actors.localstack.processes.StartupError` with the log
        tail when the server exits or is not healthy within ``startup_timeout`` s,
        :class:`~letta_actors.localstack.letta_install.InstallError` when installing fails.
        Calling it while the server started here is running does nothing.
        """
        if self.pid is not None:
            return
        if self._proc is None and self.is_healthy():
            self.reused = True
            return
        python = ensure_installed(self.paths)
        if self._postgres is None:
            self._postgres = EmbeddedPostgres(self.paths, python, self.config.stop_grace_seconds)
        self._postgres.start()
        self._postgres.ensure_schema()
        self.paths.server_home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        env.update(
            HOME=str(self.paths.server_home),
            LETTA_DIR=str(self.paths.server_home / ".letta"),
            LETTA_PG_URI=self._postgres.letta_uri,
            OPENAI_BASE_URL=self.config.openai_base_url,
            OPENAI_API_KEY=self.config.openai_api_key,
            PYTHONUNBUFFERED="1",
        )
        log_file = self.paths.log("letta-server")
        cmd = [
            str(self.paths.letta_executable),
            "server",
            "--host",
            self.config.host,
            "--port",
            str(self.config.port),
        ]
        self._proc = spawn(cmd, log_file, env=env, cwd=self.paths.server_home)
        try:
            wait_until(
                self.is_healthy,
                timeout=self.config.startup_timeout,
                what=f"letta server on {self.base_url}",
                proc=self._proc,
                log_file=log_file,
            )
        except BaseException:
            terminate(self._proc, self.config.stop_grace_seconds)
            raise

    def stop_server(self) -> None:
        """SIGTERM the server started here, SIGKILL after the grace period (postgres stays up)."""
        if self._proc is not None:
            terminate(self._proc, self.config.stop_grace_seconds)

    def kill(self) -> None:
        """SIGKILL the server started here at once (simulated crash); postgres stays up.

        Raises RuntimeError when the server was reused (not ours to kill).
        """
        if self.reused:
            raise RuntimeError("the Letta server was reused, not started here: not killing it")
        if self._proc is not None:
            kill(self._proc)

    def restart(self) -> None:
        """Start the server again on the same port and database after stop/kill."""
        if self.reused:
            raise RuntimeError("the Letta server was reused, not started here")
        self.stop_server()
        self._proc = None
        self.start()

    def stop(self) -> None:
        """Stop the server and the PostgreSQL started here. A reused server is left alone."""
        self.stop_server()
        self._proc = None
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None
