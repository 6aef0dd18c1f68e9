"""``LocalStack``: the scripted LLM plus a real Letta server wired to it.

Each part is reused when it already answers on its port (a stack started by
``python -m letta_actors.localstack up`` in another terminal); ``stop()`` only
stops what this object started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from letta_actors.localstack.admin_client import ScriptedLLMAdmin
from letta_actors.localstack.letta_server import LettaServer, LettaServerConfig
from letta_actors.localstack.paths import StackPaths
from letta_actors.localstack.processes import spawn, terminate, wait_until

SCRIPTED_MODEL = "scripted-model"
MODEL_HANDLE = f"openai-proxy/{SCRIPTED_MODEL}"
EMBEDDING_HANDLE = "openai/text-embedding-3-small"

# The folder holding the ``letta_actors`` package, for the LLM subprocess's PYTHONPATH.
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


@dataclass
class LocalStackConfig:
    """Ports, hosts and time limits of a local stack."""

    host: str = "127.0.0.1"
    llm_port: int = 8299
    letta_port: int = 8283
    paths: StackPaths = field(default_factory=StackPaths.default)
    llm_startup_timeout: float = 30.0
    letta_startup_timeout: float = 240.0
    stop_grace_seconds: float = 15.0

    @classmethod
    def from_env(cls) -> LocalStackConfig:
        """Defaults, with ports from ``LETTA_ACTORS_LLM_PORT`` / ``LETTA_ACTORS_LETTA_PORT``."""
        return cls(
            llm_port=int(os.environ.get("LETTA_ACTORS_LLM_PORT", cls.llm_port)),
            letta_port=int(os.environ.get("LETTA_ACTORS_LETTA_PORT", cls.letta_port)),
        )


def scripted_llm_answers(root_url: str) -> bool:
    """True when a scripted LLM (not just any server) answers at ``root_url``."""
    try:
        return httpx.get(f"{root_url}/_scripted/stats", timeout=2.0).is_success
    except httpx.HTTPError:
        return False


class LocalStack:
    """Scripted LLM (uvicorn subprocess) + Letta server; a context manager.

    ``start()`` raises :class:`~letta_actors.localstack.processes.StartupError`
    (with a log tail) when a part does not come up in time, after stopping what
    it had started.
    """

    def __init__(self, config: LocalStackConfig | None = None) -> None:
        self.config = config or LocalStackConfig()
        self.paths = self.config.paths
        self._llm_proc: subprocess.Popen[bytes] | None = None
        self.llm_reused = False
        self.letta = LettaServer(
            LettaServerConfig(
                openai_base_url=self.llm_base_url,
                host=self.config.host,
                port=self.config.letta_port,
                paths=self.paths,
                startup_timeout=self.config.letta_startup_timeout,
                stop_grace_seconds=self.config.stop_grace_seconds,
            )
        )
        self._admin: ScriptedLLMAdmin | None = None
        self.startup_seconds: float | None = None

    # -- addresses -----------------------------------------------------------
    @property
    def llm_root_url(self) -> str:
        """Root of the scripted LLM (admin endpoints live under ``/_scripted``)."""
        return f"http://{self.config.host}:{self.config.llm_port}"

    @property
    def llm_base_url(self) -> str:
        """OpenAI base URL of the scripted LLM (``.../v1``)."""
        return f"{self.llm_root_url}/v1"

    @property
    def letta_base_url(self) -> str:
        return self.letta.base_url

    @property
    def model_handle(self) -> str:
        return MODEL_HANDLE

    @property
    def embedding_handle(self) -> str:
        return EMBEDDING_HANDLE

    @property
    def admin(self) -> ScriptedLLMAdmin:
        """Sync admin client of the scripted LLM (created on first use)."""
        if self._admin is None:
            self._admin = ScriptedLLMAdmin(self.llm_root_url)
        return self._admin

    @property
    def reused(self) -> bool:
        """True when both parts were already running."""
        return self.llm_reused and self.letta.reused

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> LocalStack:
        """Start (or reuse) the scripted LLM, then the Letta server; wait for both."""
        started = time.monotonic()
        try:
            self._start_llm()
            self.letta.start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _start_llm(self) -> None:
        if self._llm_proc is not None and self._llm_proc.poll() is None:
            return
        if scripted_llm_answers(self.llm_root_url):
            self.llm_reused = True
            return
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
        )
        cmd = [
            sys.executable,
            "-m",
            "letta_actors.localstack.scripted_llm",
            "--host",
            self.config.host,
            "--port",
            str(self.config.llm_port),
            "--model",
            SCRIPTED_MODEL,
        ]
        log_file = self.paths.log("scripted-llm")
        self._llm_proc = spawn(cmd, log_file, env=env)
        wait_until(
            lambda: scripted_llm_answers(self.llm_root_url),
            timeout=self.config.llm_startup_timeout,
            what=f"scripted LLM on {self.llm_root_url}",
            proc=self._llm_proc,
            log_file=log_file,
        )

    def stop(self) -> None:
        """Stop what this object started (Letta, PostgreSQL, scripted LLM); idempotent."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        try:
            self.letta.stop()
        finally:
            if self._llm_proc is not None:
                terminate(self._llm_proc, self.config.stop_grace_seconds)
                self._llm_proc = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
