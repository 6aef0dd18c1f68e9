"""The tracing hook's own cost: tell throughput of this checkout against a git commit without it.

``python -m benchmarks.tracing_hook BASE`` extracts ``letta_actors/`` of commit ``BASE`` (e.g.
the one before the hook was added) into a temporary folder, then runs the ``tell`` workload
(200,000 tells to a no-op actor, capacity 1000, best of 3 passes per process) in fresh
processes, alternating the two copies (the order swapped every round), and prints each round
and the median of the per-round ratios (this checkout / BASE). Both copies use tracing off:
this measures the hook points themselves (one ``is None`` test per send and per message
handled), which the ``tracing`` section cannot, since all its subjects run this checkout.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKLOAD = r"""
import sys
sys.path.insert(0, sys.argv[1])
import time
import anyio
import letta_actors
from letta_actors import Actor, ActorSystem, MailboxConfig

assert letta_actors.__file__.startswith(sys.argv[1]), letta_actors.__file__


class Echo(Actor):
    async def receive(self, message):
        return message


async def main(n):
    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="sink", mailbox=MailboxConfig(capacity=1000))
        await ref.ask("x", timeout=10)
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(n):
                await ref.tell("m")
            await ref.ask("x", timeout=60)
            best = max(best, n / (time.perf_counter() - start))
        print(best)


anyio.run(main, int(sys.argv[2]), backend=sys.argv[3])
"""


def rate(root: Path, n: int, backend: str) -> float:
    """msg/s of the workload with ``letta_actors`` imported from ``root``."""
    done = subprocess.run(
        [sys.executable, "-c", WORKLOAD, str(root), str(n), backend],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        check=True,
        timeout=600,
    )
    return float(done.stdout.strip())


def extract(commit: str, into: Path) -> None:
    """``letta_actors/`` of ``commit`` into ``into``."""
    archive = subprocess.run(
        ["git", "archive", commit, "letta_actors"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tracing_hook", description=__doc__)
    p.add_argument("base", help="the git commit to compare with (without the tracing hook)")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--messages", type=int, default=200_000)
    p.add_argument("--backend", default="asyncio", choices=("asyncio", "trio"))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        extract(args.base, base)
        ratios = []
        for i in range(args.rounds):
            order = [base, ROOT] if i % 2 == 0 else [ROOT, base]
            rates = {root: rate(root, args.messages, args.backend) for root in order}
            ratios.append(rates[ROOT] / rates[base])
            print(f"round {i + 1}: base {rates[base]:,.0f} msg/s, this checkout "
                  f"{rates[ROOT]:,.0f} msg/s: {ratios[-1]:.3f}x", flush=True)  # fmt: skip
    print(f"median of per-round ratios (this checkout / {args.base}): "
          f"{statistics.median(ratios):.3f}x ({min(ratios):.2f}-{max(ratios):.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
