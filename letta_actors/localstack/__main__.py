"""``python -m letta_actors.localstack {up,install,status}``.

* ``up``      start (or reuse) the scripted LLM and a Letta server, print their URLs,
  run until Ctrl-C, then stop what was started here.
* ``install`` only install Letta into its own venv, exactly as ``letta-lock.txt`` pins it
  (seconds with uv, minutes with pip; once).
* ``lock``    resolve Letta's requirements afresh and rewrite ``letta-lock.txt`` (maintainers).
* ``status``  tell what answers on the ports and where the files are; exit 1 if
  a part is down.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from letta_actors.localstack.letta_install import (
    InstallError,
    ensure_installed,
    is_installed,
    write_lock,
)
from letta_actors.localstack.paths import StackPaths
from letta_actors.localstack.processes import StartupError
from letta_actors.localstack.stack import LocalStack, LocalStackConfig, scripted_llm_answers


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m letta_actors.localstack",
        description="Local stack: a scripted OpenAI-compatible LLM and a real Letta server.",
    )
    parser.add_argument(
        "--home", type=Path, help="stack home (default $LETTA_ACTORS_HOME or ~/.cache/letta-actors)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--llm-port", type=int, default=8299)
    parser.add_argument("--letta-port", type=int, default=8283)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the stack in the foreground until Ctrl-C")
    sub.add_parser("install", help="install Letta into its own venv (from the lock) and exit")
    sub.add_parser("lock", help="resolve Letta's requirements afresh and rewrite the lock file")
    sub.add_parser("status", help="show what is running and where files are")
    return parser


def _config(args: argparse.Namespace) -> LocalStackConfig:
    paths = StackPaths(args.home.expanduser().resolve()) if args.home else StackPaths.default()
    return LocalStackConfig(
        host=args.host, llm_port=args.llm_port, letta_port=args.letta_port, paths=paths
    )


def _up(config: LocalStackConfig) -> int:
    stack = LocalStack(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stack.start()
    except (StartupError, InstallError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        print(
            f"scripted LLM : {stack.llm_base_url}  (admin: {stack.llm_root_url}/_scripted)"
            f"{'  [reused]' if stack.llm_reused else ''}"
        )
        print(f"Letta server : {stack.letta_base_url}{'  [reused]' if stack.letta.reused else ''}")
        print(f"model handle : {stack.model_handle}")
        print(f"embedding    : {stack.embedding_handle}")
        print(f"logs         : {config.paths.logs}")
        print(f"started in {stack.startup_seconds:.1f} s; Ctrl-C to stop", flush=True)
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping ...", file=sys.stderr)
        stack.stop()
    return 0


def _status(config: LocalStackConfig) -> int:
    stack = LocalStack(config)
    llm_ok = scripted_llm_answers(stack.llm_root_url)
    letta_ok = stack.letta.is_healthy()
    print(f"home         : {config.paths.home}")
    print(
        f"letta venv   : {config.paths.venv} "
        f"({'installed' if is_installed(config.paths) else 'not installed'})"
    )
    print(f"scripted LLM : {stack.llm_base_url} {'up' if llm_ok else 'down'}")
    print(f"Letta server : {stack.letta_base_url} {'up' if letta_ok else 'down'}")
    print(f"logs         : {config.paths.logs}")
    return 0 if llm_ok and letta_ok else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = _config(args)
    if args.command == "install":
        try:
            print(ensure_installed(config.paths))
        except InstallError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "lock":
        try:
            print(write_lock())
        except InstallError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "status":
        return _status(config)
    return _up(config)


def stack_command(argv: list[str]) -> int:
    """``letta-actors stack``: start the local stack in the foreground until Ctrl-C (``up`` on
    the given ports). Registered as an entry point of ``letta_actors.commands``, so the
    daemon's CLI runs it without importing this package."""
    parser = argparse.ArgumentParser(
        prog="letta-actors stack",
        description="Start the local stack (scripted LLM + Letta server) until Ctrl-C.",
    )
    parser.add_argument("--llm-port", type=int, default=8299)
    parser.add_argument("--letta-port", type=int, default=8283)
    args = parser.parse_args(argv)
    return main(["--llm-port", str(args.llm_port), "--letta-port", str(args.letta_port), "up"])


if __name__ == "__main__":
    raise SystemExit(main())
