"""The extension point: metric families of the counters an integration keeps per actor.

An integration (an agent framework's actors, say) keeps counters of its own per actor and attaches
them to the actor's :class:`~letta_actors.actors.ActorStats` with
``stats.extension(Kind, make)``. The collector meets them at scrape time in
``ActorStats.extensions``. The first time one collector meets a type ``Kind`` it calls
``Kind.metrics_exporter(max_label_values)`` (a type without that attribute is not exported)
and keeps the :class:`MetricsExporter` it returns for its lifetime. Nothing is registered
anywhere: two systems, or two collectors of one system, never share an exporter.

Each scrape asks every exporter met so far for a :class:`ExtensionReading`, adds the live
actors' counters of its type to it (``add(key, stats)``, ``key`` being the actor's label value:
its name, or its group), then takes its families. With group labels the collector also hands
the exporter the final counters of each actor that stops for good (``retire``); the exporter
keeps their totals and adds them to every later reading, so group counters never go backwards.
A reading is dropped half-way when a scrape gives up: it must own everything it accumulates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from ._family import Family


class ExtensionReading(Protocol):
    """One scrape's reading of one integration's counters."""

    def add(self, key: str, stats: Any) -> None:
        """Add the counters ``stats`` of a live actor whose label value is ``key``."""

    def families(self, subject: str) -> Iterable[Family]:
        """The families of this reading plus the retired totals, labelled by ``subject``
        (``actor`` or ``group``); called once, after the last :meth:`add`."""


class MetricsExporter(Protocol):
    """Exports one integration's per-actor counters for one collector."""

    def reading(self) -> ExtensionReading:
        """A fresh reading for one scrape."""

    def retire(self, key: str, stats: Any) -> None:
        """Keep the final counters ``stats`` of an actor of group ``key`` that stopped for good
        (group labels only), for every later reading."""


class ExportedStats(Protocol):
    """What the collector looks for on the type of counters found in ``ActorStats.extensions``."""

    @staticmethod
    def metrics_exporter(max_label_values: int) -> MetricsExporter:
        """A new exporter; labels whose values come from code keep at most
        ``max_label_values`` distinct values (see :class:`~._collector.LabelGuard`)."""
