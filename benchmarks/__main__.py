"""``python -m benchmarks``: run the registered sections and print a markdown report.

``python -m benchmarks soak --minutes N`` soaks the daemon instead (:mod:`benchmarks.soak`).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from benchmarks import SECTIONS
from benchmarks._core import RunConfig, Section, SectionResult
from benchmarks.report import as_json as report_json
from benchmarks.report import machine_facts, markdown


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        epilog="python -m benchmarks soak --minutes N: the daemon under load (--help there)",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes, one repeat: a smoke run")
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this section (repeatable or comma-separated): {', '.join(SECTIONS)}",
    )
    p.add_argument(
        "--repeats", type=int, help="samples per figure (default 7, quick 1; spawn: at most 3)"
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--list", action="store_true", help="list the sections and exit")
    return p.parse_args(argv)


def selected(only: list[str] | None) -> list[Section]:
    """The sections to run, in registration order."""
    if not only:
        return list(SECTIONS.values())
    names = {n.strip() for group in only for n in group.split(",") if n.strip()}
    unknown = names - SECTIONS.keys()
    if unknown:
        raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))}")
    return [s for s in SECTIONS.values() if s.name in names]


def main(argv: list[str] | None = None) -> int:
    """Run, print, optionally write JSON."""
    argv_ = sys.argv[1:] if argv is None else argv
    if argv_[:1] == ["soak"]:  # a long run of the daemon, not a section
        from benchmarks.soak import main as soak

        return soak(argv_[1:])
    args = parse_args(argv_)
    if args.list:
        for s in SECTIONS.values():
            print(f"{s.name}: {s.title}")
        return 0
    repeats = args.repeats or (1 if args.quick else RunConfig.repeats)
    cfg = RunConfig(quick=args.quick, repeats=repeats)
    command = shlex.join(["python", "-m", "benchmarks", *(argv or sys.argv[1:])])
    facts = machine_facts()
    results: list[tuple[Section, SectionResult]] = []
    for s in selected(args.only):
        print(f"[benchmarks] {s.name}: {s.title} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        results.append((s, s.run(cfg)))
        print(
            f"[benchmarks] {s.name} took {time.perf_counter() - start:.1f}s",
            file=sys.stderr,
            flush=True,
        )
    print(markdown(facts, results, command))
    if args.json:
        args.json.write_text(json.dumps(report_json(facts, results, command), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
