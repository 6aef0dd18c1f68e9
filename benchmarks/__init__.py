"""Benchmarks of letta_actors against raw anyio backends and peer actor libraries.

Run ``python -m benchmarks`` (``--quick`` for a smoke run). A section is a module that
registers a function with :func:`benchmarks._core.section`; list it in ``SECTION_MODULES``
(the order sections run and print in) to enable it.
"""

import importlib

from benchmarks._core import SECTIONS, RunConfig, SectionResult, section

SECTION_MODULES = (
    "tell", "ask", "spawn", "restart", "metrics", "tracing", "scale", "letta_fanout",
    "cluster_baseline", "cluster_failover",
)  # fmt: skip

for _name in SECTION_MODULES:
    importlib.import_module(f"benchmarks.{_name}")

__all__ = ["SECTIONS", "SECTION_MODULES", "RunConfig", "SectionResult", "section"]
