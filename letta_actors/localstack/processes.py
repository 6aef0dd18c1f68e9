"""Small process helpers: log-file spawning, graceful stop, health polling.

Only processes this code started are signalled, by their pid (or by the
process group that the child leads, created with ``start_new_session``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx


class StartupError(RuntimeError):
    """A service did not come up; the message includes the tail of its log."""


def log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of ``path`` ('' when it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def spawn(
    cmd: Sequence[str],
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session, stdout+stderr appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} $ {' '.join(cmd)}\n".encode())
        log.flush()
        return subprocess.Popen(
            list(cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)  # the child leads its own process group
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.send_signal(sig)


def terminate(proc: subprocess.Popen[bytes], grace_seconds: float = 10.0) -> int | None:
    """SIGTERM the child's process group, SIGKILL it after ``grace_seconds``; reap it."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(10)
    else:
        _signal_group(proc, signal.SIGKILL)  # leftovers of the group, if any
    return proc.returncode


def kill(proc: subprocess.Popen[bytes]) -> int | None:
    """SIGKILL the child's process group at once and reap it (a simulated crash)."""
    _signal_group(proc, signal.SIGKILL)
    proc.wait(10)
    return proc.returncode


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists (zombies count as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when ``GET url`` answers 2xx within ``timeout`` seconds."""
    try:
        return httpx.get(url, timeout=timeout).is_success
    except httpx.HTTPError:
        return False


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log_file: Path | None = None,
    interval: float = 0.25,
) -> None:
    """Poll ``check`` until it is True.

    Raises :class:`StartupError` (with the log tail) when ``timeout`` seconds
    pass, or at once when ``proc`` exits meanwhile.
    """
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            reason = f"{what}: process exited with code {proc.returncode}"
            break
        if time.monotonic() >= deadline:
            reason = f"{what}: not ready after {timeout:.0f} s"
            break
        time.sleep(interval)
    tail = log_tail(log_file) if log_file else ""
    where = f" (log: {log_file})" if log_file else ""
    raise StartupError(f"{reason}{where}\n--- log tail ---\n{tail}")
