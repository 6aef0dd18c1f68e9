"""Child process of the ``spawn`` section: ``python -m benchmarks._spawn_child KIND N MODE``.

Prints one JSON line with the sample's figures (see :func:`benchmarks.spawn.child`).
"""

from __future__ import annotations

import json
import sys

from benchmarks.spawn import child


def main(argv: list[str]) -> int:
    """Run one sample and print it."""
    kind, n, mode = argv[0], int(argv[1]), argv[2]
    print(json.dumps(child(kind, n, mode)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
