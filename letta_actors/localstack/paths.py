"""Where the local stack keeps its files (outside the repository).

Everything lives under ``${LETTA_ACTORS_HOME:-~/.cache/letta-actors}``::

    letta-0.16.8/venv/           the Letta server's own virtualenv
    letta-0.16.8/venv.ok         marker: the install above finished
    letta-0.16.8/pgdata/         embedded PostgreSQL data directory
    letta-0.16.8/home/           HOME / LETTA_DIR of the Letta server
    logs/                        letta-server.log, postgres.log, scripted-llm.log, install.log

``$LETTA_ACTORS_DATA_DIR``, when set, moves the data (``pgdata/``, ``home/``, ``logs/``) there
while the virtualenv stays shared: two stacks (on other ports) can then run side by side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

LETTA_VERSION = "0.16.8"


def default_home() -> Path:
    """Return ``$LETTA_ACTORS_HOME`` or ``~/.cache/letta-actors`` (not created)."""
    env = os.environ.get("LETTA_ACTORS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".cache" / "letta-actors"


@dataclass(frozen=True)
class StackPaths:
    """The file layout of one local-stack home folder."""

    home: Path

    @classmethod
    def default(cls) -> StackPaths:
        return cls(default_home())

    @property
    def letta_root(self) -> Path:
        return self.home / f"letta-{LETTA_VERSION}"

    @property
    def venv(self) -> Path:
        return self.letta_root / "venv"

    @property
    def venv_python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def letta_executable(self) -> Path:
        return self.venv / "bin" / "letta"

    @property
    def install_marker(self) -> Path:
        return self.letta_root / "venv.ok"

    @property
    def data_root(self) -> Path:
        env = os.environ.get("LETTA_ACTORS_DATA_DIR")
        return Path(env).expanduser().resolve() if env else self.letta_root

    @property
    def pgdata(self) -> Path:
        return self.data_root / "pgdata"

    @property
    def schema_marker(self) -> Path:
        return self.pgdata / "letta-schema.ok"

    @property
    def server_home(self) -> Path:
        return self.data_root / "home"

    @property
    def logs(self) -> Path:
        env = os.environ.get("LETTA_ACTORS_DATA_DIR")
        return self.data_root / "logs" if env else self.home / "logs"

    def log(self, name: str) -> Path:
        """Path of the log file ``logs/<name>.log`` (folder created)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        return self.logs / f"{name}.log"
