"""Run records: what a pattern run did, in order, with its cost — and its sequence diagram."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..usage import Usage as Usage  # re-exported: its home before usage.py

#: Characters kept of a message in an event summary (the full answers live in each pattern's
#: own result fields).
SUMMARY_CHARS = 200


class RunStatus(StrEnum):
    """How a run ended."""

    COMPLETED = "completed"  # every part succeeded
    PARTIAL = "partial"  # it finished, but some parts failed
    FAILED = "failed"  # nothing usable came out
    TIMED_OUT = "timed_out"  # the run's deadline passed; the record holds what was done
    CANCELLED = "cancelled"  # cancelled from outside; the record holds what was done


EventKind = Literal[
    "request", "reply", "error", "timeout", "cancelled", "publish", "handoff", "vote", "note"
]


class RunEvent(BaseModel):
    """One step of a run: ``source`` did ``kind`` towards ``target`` at ``at`` seconds."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    at: float
    kind: EventKind
    source: str
    target: str | None = None
    summary: str = ""
    latency: float | None = None
    usage: Usage | None = None


class RunRecord(BaseModel):
    """The record every pattern run returns (patterns extend it with their own results).

    ``status`` says how it ended; ``events`` is the conversation log in order; ``usage`` is
    per agent, so a user sees which agent drives cost. A timed-out or cancelled run keeps what it
    had done (``partial`` is then true).
    """

    pattern: str
    run_id: str = ""
    status: RunStatus = RunStatus.COMPLETED
    started_at: float = 0.0
    duration: float = 0.0
    error: str | None = None
    events: list[RunEvent] = Field(default_factory=list)
    usage: dict[str, Usage] = Field(default_factory=dict)

    @property
    def partial(self) -> bool:
        """True unless every part of the run succeeded."""
        return self.status is not RunStatus.COMPLETED

    @property
    def total_usage(self) -> Usage:
        total = Usage()
        for usage in self.usage.values():
            total.add(usage)
        return total

    def to_mermaid(self) -> str:
        """A Mermaid sequence diagram of who talked to whom, in order."""
        participants: list[str] = []
        for event in self.events:
            for name in (event.source, event.target):
                if name is not None and name not in participants:
                    participants.append(name)
        lines = ["sequenceDiagram"]
        lines += [f"    participant {_ident(p)} as {_text(p)}" for p in participants]
        for event in self.events:
            text = _text(f"{event.kind}: {event.summary}" if event.summary else event.kind)
            if event.target is None:
                lines.append(f"    Note over {_ident(event.source)}: {text}")
                continue
            arrow = {"reply": "-->>", "error": "--x", "timeout": "--x", "cancelled": "--x"}.get(
                event.kind, "->>"
            )
            lines.append(f"    {_ident(event.source)}{arrow}{_ident(event.target)}: {text}")
        anchor = _ident(participants[0]) if participants else "run"
        summary = _text(f"{self.pattern} {self.status} in {self.duration:.2f} s")
        lines.append(f"    Note over {anchor}: {summary}")
        return "\n".join(lines)


def summarize(value: Any, limit: int = SUMMARY_CHARS) -> str:
    """A one-line, bounded text of ``value`` for event summaries."""
    text = getattr(value, "text", None)
    if not isinstance(text, str):
        text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ident(name: str) -> str:
    """A Mermaid participant id: letters, digits and underscores only."""
    return re.sub(r"\W", "_", name) or "_"


def _text(text: str) -> str:
    """Message text Mermaid will not misread (no line breaks, ``;``, ``#`` or arrows)."""
    return _UNSAFE.sub(lambda match: _CODES[match.group()], " ".join(text.split()))


_CODES = {"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;"}
_UNSAFE = re.compile("[#;<>]")
