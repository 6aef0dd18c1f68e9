"""The metric catalog: every family the collector exports, with its type, labels and help.

This is the single source of truth: the collector builds its families from it and the tests
check that ``docs/metrics.md`` documents every entry. Names follow Prometheus' rules: the
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


def _spec(name: str, kind: Kind, labels: tuple[str, ...], help: str) -> MetricSpec:
    return MetricSpec(PREFIX + name, kind, labels, help)


S = SUBJECT

# -- actors -----------------------------------------------------------------------------------
RECEIVED = _spec(
    "messages_received_total", "counter", (S,), "Messages accepted into an actor's mailbox."
)
PROCESSED = _spec(
    "messages_processed_total",
    "counter",
    (S, "outcome"),
    "Messages taken from the mailbox, by outcome: ok (handled), failed (the handler raised), "
    "cancelled (handling was cancelled), expired (an ask skipped because its asker had given up).",
)
DROPPED = _spec(
    "messages_dropped_total",
    "counter",
    (S,),
    "Messages refused or dropped by a full mailbox's overflow policy.",
)
HANDLING = _spec(
    "message_handling_seconds",
    "histogram",
    (S,),
    "Time an actor spent handling one message (receive), successful or not.",
)
WAITING = _spec(
    "mailbox_wait_seconds",
    "histogram",
    (S,),
    "Time a message waited in the mailbox between being sent and being taken for handling.",
)
DEPTH = _spec("mailbox_depth", "gauge", (S,), "Messages queued in the mailbox now.")
CAPACITY = _spec(
    "mailbox_capacity",
    "gauge",
    (S,),
    "Messages the mailbox holds before its overflow policy applies.",
)
ACTORS = _spec(
    "actors",
    "gauge",
    ("state",),
    "Registered actors (supervisors included) by state; with group labels also by group.",
)
RESTARTS = _spec("restarts_total", "counter", (S,), "Restarts of an actor by its supervisor.")
ESCALATIONS = _spec(
    "supervisor_escalations_total",
    "counter",
    (S,),
    "Times a supervisor exceeded its restart intensity and escalated to its parent.",
)
ASKS_TIMED_OUT = _spec(
    "asks_timed_out_total",
    "counter",
    (S,),
    "Asks to an actor whose asker gave up (AskTimeout) before the reply.",
)

# -- system -----------------------------------------------------------------------------------
DEAD_LETTERS = _spec(
    "dead_letters_total", "counter", ("reason",), "Dead letters recorded, by reason."
)
PUBLISHES = _spec(
    "bus_publishes_total", "counter", ("topic",), "Messages published on the bus, by topic."
)

# -- Letta agents -----------------------------------------------------------------------------
LETTA_REQUESTS = _spec(
    "letta_requests_total",
    "counter",
    (S, "server", "status"),
    "Requests to a Letta server by status (ok, error, timeout, rate_limited, cancelled, "
    "circuit_open, ...).",
)
LETTA_DURATION = _spec(
    "letta_request_duration_seconds",
    "histogram",
    (S, "server"),
    "Latency of requests to a Letta server (a multi-step agent turn can take minutes).",
)
LETTA_TOKENS = _spec(
    "letta_tokens_total",
    "counter",
    (S, "server", "kind"),
    "LLM tokens reported by Letta's usage, by kind (prompt, completion).",
)
LETTA_STEPS = _spec(
    "letta_steps_total", "counter", (S, "server"), "Agent steps reported by Letta's usage."
)
LETTA_TOOL_CALLS = _spec(
    "letta_tool_calls_total",
    "counter",
    (S, "server", "tool"),
    "Client-side tool calls executed by Letta agent actors, by tool.",
)
LETTA_BREAKER = _spec(
    "letta_circuit_breaker_state",
    "gauge",
    (S, "server", "state"),
    "Circuit breaker state towards a Letta server: 1 for the current state (closed, open, "
    "half_open), 0 otherwise; with group labels, the number of agents in that state.",
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
    LETTA_REQUESTS,
    LETTA_DURATION,
    LETTA_TOKENS,
    LETTA_STEPS,
    LETTA_TOOL_CALLS,
    LETTA_BREAKER,
)

#: Outcomes of ``letta_actors_messages_processed_total``.
OUTCOMES: tuple[str, ...] = ("ok", "failed", "cancelled", "expired")
#: Circuit breaker states always exported for a Letta agent (0 or 1 each).
BREAKER_STATES: tuple[str, ...] = ("closed", "open", "half_open")
#: Token kinds of ``letta_actors_letta_tokens_total``.
TOKEN_KINDS: tuple[str, ...] = ("prompt", "completion")
#: The value that replaces label values beyond the per-label limit (see ``max_label_values``).
OTHER = "__other__"
