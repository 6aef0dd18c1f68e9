"""``letta-actors``: run a team as a daemon, check a team file, talk to a running daemon.

Other packages add commands as entry points of :data:`COMMANDS` (``stack``, the local stack,
comes from :mod:`letta_actors.localstack` so): ``name = "module:function"``, the function
taking the arguments after the name and returning the exit code. Loaded only when run.

Exit codes: 0 success; 1 a failure at run time (daemon unreachable, an error answer, a run
that did not complete, a forced stop); 2 an invalid team file or command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from ..durable import DecodeError, StoreError
from ..team import NODE_ENV, ConfigError, load_config
from .client import DEFAULT_URL, TOKEN_VAR, URL_VAR, ApiError, Client

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

#: The entry-point group of the commands other packages add.
COMMANDS = "letta_actors.commands"
_OWN = ("run", "check", "send", "run-workflow", "status")


def _commands() -> dict[str, EntryPoint]:
    """The commands other packages add (a name this CLI has itself is not replaced)."""
    return {ep.name: ep for ep in entry_points(group=COMMANDS) if ep.name not in _OWN}


def _client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"daemon URL (default ${URL_VAR} or {DEFAULT_URL})")
    parser.add_argument(
        "--token-env",
        default=TOKEN_VAR,
        help="environment variable holding the bearer token (default %(default)s)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="letta-actors", description="Run teams of Letta agents as actors."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a team file as a daemon (HTTP API, metrics)")
    run.add_argument("config", type=Path, help="team file (TOML)")
    run.add_argument("--host", help="API host (overrides [api] host)")
    run.add_argument("--port", type=int, help="API port (overrides [api] port; 0: any free)")
    run.add_argument("--log-format", choices=("text", "json"), help="overrides [logging]")
    run.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    run.add_argument(
        "--ready-file",
        type=Path,
        help="write {url, metrics_url, pid} as JSON to this file once serving",
    )
    run.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help="event loop (%(default)s)"
    )
    run.add_argument(
        "--node",
        help=f"this node's name in cluster mode (overrides ${NODE_ENV} and [cluster] node)",
    )

    check = sub.add_parser("check", help="validate a team file; print the team and link graph")
    check.add_argument("config", type=Path, help="team file (TOML)")

    send = sub.add_parser("send", help="send a message to an agent of a running daemon")
    send.add_argument("agent")
    send.add_argument("message", help="the message (text, or JSON with --json)")
    send.add_argument("--json", action="store_true", help="parse MESSAGE as JSON")
    send.add_argument("--timeout", type=float, help="seconds to wait for the reply")
    send.add_argument("--tell", action="store_true", help="queue it; do not wait for a reply")
    _client_options(send)

    flow = sub.add_parser("run-workflow", help="run a declared workflow; show live progress")
    flow.add_argument("workflow")
    flow.add_argument("input", help="the run's input (text, or JSON with --json)")
    flow.add_argument("--json", action="store_true", help="parse INPUT as JSON")
    flow.add_argument("--no-wait", action="store_true", help="print the run id and return")
    flow.add_argument("--mermaid", action="store_true", help="print the sequence diagram")
    flow.add_argument("--quiet", action="store_true", help="no live progress")
    _client_options(flow)

    status = sub.add_parser(
        "status",
        help="show a running daemon's actors and readiness (in cluster mode: the nodes and "
        "which node owns which agent)",
    )
    _client_options(status)

    for name, command in _commands().items():
        origin = command.module.removesuffix(".__main__")
        sub.add_parser(name, help=f"added by {origin}: see 'letta-actors {name} --help'")
    return parser


def _value(text: str, as_json: bool) -> Any:
    if not as_json:
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SystemExit(f"letta-actors: not valid JSON: {exc}") from None


def _check(path: Path) -> int:
    from ..team import python_factories
    from .describe import describe

    try:
        config = load_config(path)
        python_factories(config, path.parent.resolve())
    except ConfigError as exc:
        if exc.path == "<team>":
            exc = ConfigError(path, exc.issues)
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    print(describe(config))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from ..team import Team
    from .logs import configure_logging
    from .server import Daemon, StartupRefused, run_daemon

    path: Path = args.config
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    secrets = [os.environ.get(config.api.token_env, "")]
    if config.letta.api_key_env:
        secrets.append(os.environ.get(config.letta.api_key_env, ""))
    configure_logging(
        args.log_level or config.logging.level,
        args.log_format or config.logging.format,
        secrets,
        summary_interval=config.logging.summary_interval,
    )
    try:
        daemon = Daemon(
            Team(config, base_dir=path.parent.resolve(), node=args.node),
            host=args.host,
            port=args.port,
            ready_file=args.ready_file,
            backend=args.backend,
        )
        return run_daemon(daemon)
    except ConfigError as exc:
        print(ConfigError(path, exc.issues), file=sys.stderr)
        return EXIT_CONFIG
    except StartupRefused as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (StoreError, DecodeError) as exc:  # [store]: locked by another process, unreadable
        print(f"{path}: [store] {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:
        if config.cluster is None:
            raise
        from ..cluster import ClusterError  # installed: the file's [cluster] was checked

        if not isinstance(exc, ClusterError):
            raise
        # NATS unreachable: a failure at run time; a name taken, a variable unset: the config.
        print(f"{path}: [cluster] {exc}", file=sys.stderr)
        return EXIT_FAILED if isinstance(exc, ConnectionError) else EXIT_CONFIG


def _send(client: Client, args: argparse.Namespace) -> int:
    message = _value(args.message, args.json)
    if args.tell:
        answer = client.tell(args.agent, message)
        print(f"queued as {answer['message_id']}")
        return EXIT_OK
    answer = client.ask(args.agent, message, timeout=args.timeout)
    text = answer.get("text")
    print(text if text is not None else json.dumps(answer["reply"], indent=2))
    return EXIT_OK


def _progress(data: dict[str, Any]) -> str:
    working = data.get("working") or {}
    busy = "; ".join(f"{a}: {w}" for a, w in working.items()) or "waiting"
    return f"[{data.get('elapsed', 0):7.1f} s] {data.get('status')}: {busy}"


def _run_workflow(client: Client, args: argparse.Namespace) -> int:
    started = client.start_run(args.workflow, _value(args.input, args.json))
    run_id = started["run_id"]
    print(f"run {run_id} of {args.workflow} started", file=sys.stderr)
    if args.no_wait:
        print(run_id)
        return EXIT_OK
    final: dict[str, Any] | None = None
    live = sys.stderr.isatty()
    for event, data in client.events(run_id):
        if event == "progress" and not args.quiet:
            line = _progress(data)
            print(
                f"\r\x1b[K{line}" if live else line,
                end="" if live else "\n",
                file=sys.stderr,
                flush=True,
            )
        elif event == "record":
            final = data
    if live and not args.quiet:
        print(file=sys.stderr)
    if final is None:  # the stream ended early: read the run instead
        final = client.run(run_id)
    _print_run(final, args.mermaid)
    return EXIT_OK if final["status"] in ("completed",) else EXIT_FAILED


def _print_run(run: dict[str, Any], mermaid: bool) -> None:
    record = run.get("record") or {}
    print(f"run {run['run_id']} ({run['workflow']}): {run['status']} in {run['elapsed']:.2f} s")
    if run.get("error"):
        print(f"error: {run['error']}")
    for stage in record.get("stages", []):
        print(f"  {stage['name']} [{stage['status']}] {stage.get('output') or stage.get('error')}")
    for task in record.get("results", []):
        print(f"  {task['id']} [{task['status']}] {task.get('answer') or task.get('error')}")
    for d in record.get("delegations", []):
        outcome = d.get("answer") if d.get("status") == "ok" else d.get("error")
        print(f"  {d['from_agent']} -> {d['to']} [{d['status']}] {d['task'][:60]!r}: {outcome}")
    for key in ("output", "answer", "decision", "reply"):
        if key in record:
            print(f"{key}: {record[key]}")
    for agent, usage in (record.get("usage") or {}).items():
        tokens = usage["prompt_tokens"] + usage["completion_tokens"]
        print(f"  usage {agent}: {tokens} tokens, {usage['requests']} requests")
    if mermaid and run.get("mermaid"):
        print(run["mermaid"])


def _status(client: Client) -> int:
    ready, report = client.ready()
    print(f"{client.url}: {'ready' if ready else 'NOT ready'}")
    for item in report.get("not_running", []) if isinstance(report, dict) else []:
        print(f"  not running: {item}")
    cluster = client.cluster()
    if cluster is not None:
        print(f"node {cluster['node']}; live nodes: {', '.join(cluster['nodes'])}")
        print(f"{'agent':<24}owner")
        for agent, owner in cluster["owners"].items():
            print(f"{agent:<24}{owner or '(none now)'}")
        print()
    rows = client.actors()
    print(f"{'actor':<24}{'kind':<12}{'state':<12}{'mailbox':>10}{'restarts':>10}  working on")
    for a in rows:
        box = f"{a['mailbox_depth']}/{a['mailbox_capacity']}"
        print(
            f"{a['name']:<24}{a['kind']:<12}{a['state']:<12}{box:>10}{a['restarts']:>10}  "
            f"{a['working_on'] or ''}"
        )
    return EXIT_OK if ready else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """The ``letta-actors`` entry point; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    added = _commands().get(argv[0]) if argv else None
    if added is not None:
        command: Callable[[list[str]], int] = added.load()
        return command(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "check":
        return _check(args.config)
    if args.command == "run":
        return _run(args)
    client = Client(args.url, token_env=args.token_env)
    try:
        if args.command == "send":
            return _send(client, args)
        if args.command == "run-workflow":
            return _run_workflow(client, args)
        return _status(client)
    except ApiError as exc:
        print(f"letta-actors: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
