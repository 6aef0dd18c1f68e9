"""Workflow runs started through the daemon: each one's state, record and cancel handle."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

import anyio

from ..patterns import RunControl, RunRecord

RunState = Literal["running", "finished"]


class RunEntry:
    """One run: ``state`` is ``running`` until the pattern returned its record (``finished``),
    whatever the record's status. ``error`` is set when the pattern raised instead."""

    def __init__(self, workflow: str, message: Any) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.workflow = workflow
        self.message = message
        self.state: RunState = "running"
        self.started_at = time.time()
        self.finished_at: float | None = None
        self.record: RunRecord | None = None
        self.error: str | None = None
        self.control = RunControl()
        self.done = anyio.Event()
        #: Called once the run finished (the :class:`RunStore` holding it prunes then).
        self.on_finish: Callable[[RunEntry], None] | None = None

    def finish(self, record: RunRecord | None, error: str | None = None) -> None:
        self.record, self.error = record, error
        self.state = "finished"
        self.finished_at = time.time()
        self.done.set()
        if self.on_finish is not None:
            self.on_finish(self)

    @property
    def status(self) -> str:
        """``running``, the record's status, or ``failed`` when the pattern raised."""
        if self.state == "running":
            return "running"
        return str(self.record.status) if self.record is not None else "failed"

    def summary(self) -> dict[str, Any]:
        """The run as the API shows it (the record in full once finished)."""
        end = self.finished_at if self.finished_at is not None else time.time()
        return {
            "run_id": self.id,
            "workflow": self.workflow,
            "state": self.state,
            "status": self.status,
            "started_at": self.started_at,
            "elapsed": round(end - self.started_at, 6),
            "error": self.error,
            "record": self.record.model_dump(mode="json") if self.record is not None else None,
            "mermaid": self.record.to_mermaid() if self.record is not None else None,
        }


class RunStore:
    """The runs of one daemon, newest last; finished runs beyond ``keep`` are forgotten
    (oldest first) whenever a run is added or finishes, so the store holds at most ``keep``
    runs unless more than ``keep`` are running. Running runs are never forgotten."""

    def __init__(self, keep: int = 1000) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.keep = keep
        self._runs: OrderedDict[str, RunEntry] = OrderedDict()

    def add(self, entry: RunEntry) -> None:
        self._runs[entry.id] = entry
        entry.on_finish = self._finished
        self._prune()

    def _finished(self, entry: RunEntry) -> None:
        self._prune()

    def _prune(self) -> None:
        excess = len(self._runs) - self.keep
        if excess <= 0:
            return
        finished = [r.id for r in self._runs.values() if r.state == "finished"]
        for run_id in finished[:excess]:
            del self._runs[run_id]

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: str) -> RunEntry | None:
        return self._runs.get(run_id)

    def running(self) -> list[RunEntry]:
        return [r for r in self._runs.values() if r.state == "running"]

    def __iter__(self) -> Any:
        return iter(list(self._runs.values()))
