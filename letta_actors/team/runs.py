"""Workflow runs started through the daemon: each one's state, record and cancel handle.

Kept in memory; with a ``[store]`` in the team file also in its SQLite file
(:meth:`RunStore.open`), so a restarted daemon lists its past runs, and those that were still
running when it died are marked ``interrupted``.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio
from pydantic import ConfigDict
from pydantic_core import to_jsonable_python

from ..durable import DurableStore, StoreSection
from ..patterns import RunControl, RunRecord
from .loader import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from ..system import ActorSystem

RunState = Literal["running", "finished"]

#: The error of a run found still ``running`` in the store at start: its daemon died.
INTERRUPTED = "interrupted: the daemon stopped before the run finished"


class StoredRecord(RunRecord):
    """A run record read back from the store, with its pattern's own fields kept as they were."""

    model_config = ConfigDict(extra="allow")


class RunEntry:
    """One run: ``state`` is ``running`` until the pattern returned its record (``finished``),
    whatever the record's status. ``error`` is set when the pattern raised instead;
    ``interrupted`` when the daemon died while it ran (read back from the store)."""

    def __init__(
        self,
        workflow: str,
        message: Any,
        *,
        run_id: str | None = None,
        started_at: float | None = None,
    ) -> None:
        self.id = run_id if run_id is not None else uuid.uuid4().hex[:16]
        self.workflow = workflow
        self.message = message
        self.state: RunState = "running"
        self.started_at = started_at if started_at is not None else time.time()
        self.finished_at: float | None = None
        self.record: RunRecord | None = None
        self.error: str | None = None
        self.interrupted = False
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
        """``running``, ``interrupted``, the record's status, or ``failed`` when the pattern
        raised."""
        if self.state == "running":
            return "running"
        if self.interrupted:
            return "interrupted"
        return str(self.record.status) if self.record is not None else "failed"

    def row(self) -> dict[str, Any]:
        """The run without its record (cheap: no dump, no diagram): id, workflow, state,
        status, timing, error."""
        end = self.finished_at if self.finished_at is not None else time.time()
        return {
            "run_id": self.id,
            "workflow": self.workflow,
            "state": self.state,
            "status": self.status,
            "started_at": self.started_at,
            "elapsed": round(end - self.started_at, 6),
            "error": self.error,
        }

    def summary(self) -> dict[str, Any]:
        """The run as the API shows it: :meth:`row` and the record in full once finished."""
        record = self.record
        return {
            **self.row(),
            "record": record.model_dump(mode="json") if record is not None else None,
            "mermaid": record.to_mermaid() if record is not None else None,
        }

    def stored(self) -> dict[str, Any]:
        """What the store keeps of it (JSON; an input that is not JSON is kept as its repr)."""
        return {
            "run_id": self.id,
            "workflow": self.workflow,
            "input": to_jsonable_python(self.message, fallback=repr),
            "state": self.state,
            "interrupted": self.interrupted,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "record": self.record.model_dump(mode="json") if self.record is not None else None,
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> RunEntry:
        """A finished entry from :meth:`stored` data; one stored while running is marked
        interrupted (finished now, as far as anyone can tell)."""
        entry = cls(data["workflow"], data["input"], run_id=data["run_id"],
                    started_at=data["started_at"])  # fmt: skip
        record = data["record"]
        entry.record = StoredRecord.model_validate(record) if record is not None else None
        entry.error = data["error"]
        entry.interrupted = data["interrupted"] or data["state"] == "running"
        entry.finished_at = data["finished_at"]
        if data["state"] == "running":
            entry.error, entry.finished_at = INTERRUPTED, time.time()
        entry.state = "finished"
        entry.done.set()
        return entry


class RunRecords(Protocol):
    """Where a daemon keeps its run records: the lone daemon's SQLite store
    (:class:`~letta_actors.durable.DurableStore`) or a cluster node's key-value bucket."""

    async def runs(self) -> list[dict[str, Any]]:
        """The saved records, oldest start first."""

    def save_run(self, run_id: str, started_at: float, data: dict[str, Any]) -> None:
        """Write (or replace) a record (it may be written later, in order)."""

    def forget_run(self, run_id: str) -> None:
        """Delete a record."""


class RunStore:
    """The runs of one daemon, newest last; finished runs beyond ``keep`` are forgotten
    (oldest first) whenever a run is added or finishes, so the store holds at most ``keep``
    runs unless more than ``keep`` are running. Running runs are never forgotten."""

    def __init__(self, keep: int = 1000) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.keep = keep
        self._runs: OrderedDict[str, RunEntry] = OrderedDict()
        self._store: RunRecords | None = None

    async def open(self, store: RunRecords) -> int:
        """Read the runs saved in ``store`` (before any run starts here) and save every run
        from now on, as it starts and as it finishes; returns how many were read. Those saved
        while running are marked interrupted (and saved so)."""
        saved = await store.runs()
        for data in saved:
            entry = RunEntry.restore(data)
            if data["state"] == "running":
                store.save_run(entry.id, entry.started_at, entry.stored())
            self._runs[entry.id] = entry
        self._store = store
        self._prune()
        return len(saved)

    def _save(self, entry: RunEntry) -> None:
        if self._store is not None:
            self._store.save_run(entry.id, entry.started_at, entry.stored())

    def add(self, entry: RunEntry) -> None:
        self._runs[entry.id] = entry
        entry.on_finish = self._finished
        self._save(entry)
        self._prune()

    def _finished(self, entry: RunEntry) -> None:
        if entry.id in self._runs:
            self._save(entry)
        self._prune()

    def _prune(self) -> None:
        excess = len(self._runs) - self.keep
        if excess <= 0:
            return
        finished = [r.id for r in self._runs.values() if r.state == "finished"]
        for run_id in finished[:excess]:
            del self._runs[run_id]
            if self._store is not None:
                self._store.forget_run(run_id)

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: str) -> RunEntry | None:
        return self._runs.get(run_id)

    def running(self) -> list[RunEntry]:
        return [r for r in self._runs.values() if r.state == "running"]

    def __iter__(self) -> Any:
        return iter(list(self._runs.values()))


async def open_store(
    stack: AsyncExitStack,
    section: StoreSection,
    system: ActorSystem,
    runs: RunStore,
    agents: Collection[str],
    base_dir: Path | None = None,
) -> DurableStore:
    """Open the team file's ``[store]`` on ``stack`` (closed after what is entered later: the
    system), give its agents durable mailboxes in ``system`` (before it is entered) and keep
    ``runs`` in it. Raises :class:`ConfigError` for an agent it names that is not declared,
    and :class:`~letta_actors.durable.StoreError` when the file cannot be opened."""
    names = tuple(agents) if section.actors is None else section.actors
    unknown = [name for name in names if name not in agents]
    if unknown:
        issues = [ConfigIssue("store.actors", f"unknown agent {name!r}") for name in unknown]
        raise ConfigError("<team>", issues)
    path = Path(section.path)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    store = await stack.enter_async_context(DurableStore(path, sync=section.sync))
    await store.attach(system, names)
    await runs.open(store)
    return store
