"""Without the ``otel`` extra: the runtime, the daemon's config and logs work; tracing says
what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["opentelemetry"] = None  # as if the otel extra were not installed

    import logging
    import anyio
    from letta_actors import Actor, ActorSystem
    from letta_actors.team import ConfigError, parse_config
    from letta_actors.daemon.logs import configure_logging
    from letta_actors import tracing

    assert not tracing.available()
    try:
        tracing.install_tracing
    except ImportError as exc:
        assert "pip install 'letta-actors[otel]'" in str(exc), exc
    else:
        raise AssertionError("install_tracing imported without OpenTelemetry")
    team = '[agents.a]\\nkind = "python"\\nfactory = "m:f"\\n'
    assert parse_config(team).tracing.enabled is False
    try:
        parse_config(team + "[tracing]\\nenabled = true\\n")
    except ConfigError as exc:
        assert "letta-actors[otel]" in str(exc), exc
    else:
        raise AssertionError("tracing enabled without OpenTelemetry")
    configure_logging("INFO", "json")


    class Echo(Actor):
        async def receive(self, message):
            logging.getLogger("x").info("handled %s", message)
            return message


    async def main():
        async with ActorSystem() as system:
            ref = await system.spawn(Echo, name="echo")
            assert await ref.ask("hi", timeout=10) == "hi"


    anyio.run(main)
    assert "opentelemetry.trace" not in sys.modules
    print("ok")
    """
)


def test_everything_but_tracing_works_without_opentelemetry() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert '"message": "handled hi"' in done.stderr and "trace_id" not in done.stderr


def test_the_core_and_integrations_do_not_import_opentelemetry() -> None:
    code = (
        "import sys, letta_actors, letta_actors.letta, letta_actors.patterns, "
        "letta_actors.metrics; print(sorted(m for m in sys.modules if 'opentelemetry' in m))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
