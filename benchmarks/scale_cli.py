"""``python -m benchmarks.scale_cli``: the ``scale`` section alone, with sizes of your choice.

``--seconds`` sets the soak (default 600; 0 skips it), ``--actors`` the system's size,
``--scrapes`` the scrapes per label mode; ``--quick`` is a seconds-long smoke run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from benchmarks._core import SECTIONS
from benchmarks.report import as_json, machine_facts, markdown
from benchmarks.scale import N_ACTORS, SOAK_SECONDS, run_scale


def main(argv: list[str] | None = None) -> int:
    """Run the ``scale`` section with the sizes given on the command line."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale_cli", description=__doc__)
    p.add_argument("--actors", type=int, default=N_ACTORS)
    p.add_argument("--scrapes", type=int, default=15, help="scrapes per label mode")
    p.add_argument("--seconds", type=int, default=SOAK_SECONDS, help="soak (0: none)")
    p.add_argument("--quick", action="store_true", help="300 actors, 3 scrapes, 3 s soak")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.actors, args.scrapes, args.seconds = 300, 3, min(args.seconds, 3)
    command = shlex.join(["python", "-m", "benchmarks.scale_cli", *(argv or sys.argv[1:])])
    facts = machine_facts()
    result = run_scale(args.actors, args.scrapes, args.seconds)
    results = [(SECTIONS["scale"], result)]
    print(markdown(facts, results, command))
    if args.json:
        args.json.write_text(json.dumps(as_json(facts, results, command), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
