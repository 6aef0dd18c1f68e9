"""What the console shows, as JSON: the team's live state, one run as it grows, dead letters.

Pure functions of a running :class:`~letta_actors.team.Team` (no I/O): the routes stream
them as server-sent events.
"""

from __future__ import annotations

from typing import Any

from ...patterns import RunRecord, summarize
from ...team import RunEntry, Team

#: Newest runs and dead letters sent in a live snapshot (the API lists every run kept).
SNAPSHOT_LIMIT = 100


def dead_letters(team: Team, limit: int = SNAPSHOT_LIMIT) -> dict[str, Any]:
    """The totals per reason since the start, and the newest ``limit`` letters, newest first."""
    if not team.started:
        return {"total": 0, "totals": {}, "letters": []}
    log = team.system.dead_letters
    letters = list(log)[-limit:][::-1]
    return {
        "total": log.total,
        "totals": {str(reason): n for reason, n in log.totals.items()},
        "letters": [
            {
                "at": d.at,
                "recipient": d.envelope.recipient,
                "sender": d.envelope.sender,
                "topic": d.envelope.topic,
                "message_id": d.envelope.id,
                "reason": str(d.reason),
                "error": d.error_text,
                "message": summarize(d.envelope.payload, 160),
            }
            for d in letters
        ],
    }


def snapshot(team: Team) -> dict[str, Any]:
    """The team's state now: actors, the newest runs (newest first), dead letters."""
    runs = list(team.runs)[-SNAPSHOT_LIMIT:][::-1]
    return {
        "started": team.started,
        "accepting": team.accepting,
        "actors": team.actors() if team.started else [],
        "runs": [entry.row() for entry in runs],
        "dead_letters": dead_letters(team),
    }


def live_record(entry: RunEntry) -> RunRecord | None:
    """The run's record: the final one once finished, else the one growing (``None`` before
    the pattern started it, or when the pattern raised)."""
    return entry.record if entry.state == "finished" else entry.control.record


def run_view(entry: RunEntry) -> dict[str, Any]:
    """A run with its record and sequence diagram so far. While it runs, the record's
    ``status`` reads ``running`` and the diagram's closing note says it is still running."""
    view = entry.row()
    record = live_record(entry)
    view["input"] = summarize(entry.message, 400)
    if record is None:
        view["record"] = None
        view["mermaid"] = None
        return view
    dumped = record.model_dump(mode="json")
    mermaid = record.to_mermaid()
    if entry.state == "running":
        dumped["status"] = "running"
        lines = mermaid.splitlines()[:-1]  # the closing note states the final status
        anchor = lines[1].split()[1] if len(lines) > 1 else "run"
        lines.append(f"    Note over {anchor}: running…")
        mermaid = "\n".join(lines)
    view["record"] = dumped
    view["mermaid"] = mermaid
    return view
