"""The metric catalog: every family the collector exports, with its type, labels and help.

This is the single source of truth of the runtime's families: the collector builds them from
it and the tests check that ``docs/metrics.md`` documents every entry (and those integrations
export through the extension point, :mod:`._extension`). Names follow Prometheus' rules: the
``letta_actors_`` prefix, base units (seconds), ``_total`` on counters (the name given here for
a counter *includes* ``_total``; the exposition adds it back in both formats).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

PREFIX = "letta_actors_"

Kind = Literal["counter", "gauge", "histogram"]

#: Placeholder in :attr:`MetricSpec.labels` for the per-actor label (``actor``, or ``group`` when
#: the system is labelled by group).
SUBJECT = "{subject}"


@dataclasses.dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric family: full name, type, label names (``{subject}`` = actor/group) and help."""

    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str

    @property
    def family(self) -> str:
        """The family name prometheus-client expects (counters without ``_total``)."""
        if self.kind == "counter":
            return self.name.removesuffix("_total")
        return self.name

    def label_names(self, subject: str) -> tuple[str, ...]:
        return tuple(subject if label == SUBJECT else label for label in self.labels)


def metric_spec(name: str, kind: Kind, labels: tuple[str, ...], help: str) -> MetricSpec:
    """The spec of family ``PREFIX + name`` (what an integration's exporter declares too)."""
    return MetricSpec(PREFIX + name, kind, labels, help)


S = SUBJECT

# -- actors -----------------------------------------------------------------------------------
RECEIVED = metric_spec(
    "messages_received_total", "counter", (S,), "Messages accepted into an actor's mailbox."
)
PROCESSED = metric_spec(
    "messages_processed_total",
    "counter",
    (S, "outcome"),
    "Messages taken from the mailbox, by outcome: ok (handled), failed (the handler raised), "
    "cancelled (handling was cancelled), expired (an ask skipped because its asker had given up).",
)
DROPPED = metric_spec(
    "messages_dropped_total",
    "counter",
    (S,),
    "Messages refused or dropped by a full mailbox's overflow policy.",
)
HANDLING = metric_spec(
    "message_handling_seconds",
    "histogram",
    (S,),
    "Time an actor spent handling one message (receive), successful or not.",
)
WAITING = metric_spec(
    "mailbox_wait_seconds",
    "histogram",
    (S,),
    "Time a message waited in the mailbox between being sent and being taken for handling.",
)
DEPTH = metric_spec("mailbox_depth", "gauge", (S,), "Messages queued in the mailbox now.")
CAPACITY = metric_spec(
    "mailbox_capacity",
    "gauge",
    (S,),
    "Messages the mailbox holds before its overflow policy applies.",
)
ACTORS = metric_spec(
    "actors",
    "gauge",
    ("state",),
    "Registered actors (supervisors included) by state; with group labels also by group.",
)
RESTARTS = metric_spec("restarts_total", "counter", (S,), "Restarts of an actor by its supervisor.")
ESCALATIONS = metric_spec(
    "supervisor_escalations_total",
    "counter",
    (S,),
    "Times a supervisor exceeded its restart intensity and escalated to its parent.",
)
ASKS_TIMED_OUT = metric_spec(
    "asks_timed_out_total",
    "counter",
    (S,),
    "Asks to an actor whose asker gave up (AskTimeout) before the reply.",
)

# -- system -----------------------------------------------------------------------------------
DEAD_LETTERS = metric_spec(
    "dead_letters_total", "counter", ("reason",), "Dead letters recorded, by reason."
)
PUBLISHES = metric_spec(
    "bus_publishes_total", "counter", ("topic",), "Messages published on the bus, by topic."
)

CATALOG: tuple[MetricSpec, ...] = (
    RECEIVED,
    PROCESSED,
    DROPPED,
    HANDLING,
    WAITING,
    DEPTH,
    CAPACITY,
    ACTORS,
    RESTARTS,
    ESCALATIONS,
    ASKS_TIMED_OUT,
    DEAD_LETTERS,
    PUBLISHES,
)

#: Outcomes of ``letta_actors_messages_processed_total``.
OUTCOMES: tuple[str, ...] = ("ok", "failed", "cancelled", "expired")
#: The value that replaces label values beyond the per-label limit (see ``max_label_values``).
OTHER = "__other__"
