"""Run records in the store: a new RunStore on the same file lists past runs, marks those that
were running interrupted, and forgets in the file what it forgets in memory; the team file's
``[store]`` section."""

from __future__ import annotations

from pathlib import Path

import pytest

from letta_actors.durable import DurableStore
from letta_actors.patterns import RunRecord, RunStatus
from letta_actors.team import ConfigError, RunEntry, RunStore, Team, parse_config

from ..daemon.helpers import REPO

pytestmark = pytest.mark.anyio


class PipelineRecord(RunRecord):
    output: str = ""


async def test_past_runs_come_back_and_running_ones_are_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    async with DurableStore(path) as store:
        runs = RunStore()
        assert await runs.open(store) == 0
        done = RunEntry("shout", {"text": "hi"})
        runs.add(done)
        record = PipelineRecord(pattern="pipeline", run_id=done.id, output="HI")
        done.finish(record)
        failed = RunEntry("shout", object())  # an input that is not JSON: kept as its repr
        runs.add(failed)
        failed.finish(None, "ValueError: boom")
        running = RunEntry("slow", "still going")
        runs.add(running)
    async with DurableStore(path) as store:
        runs = RunStore()
        assert await runs.open(store) == 3
        back = {entry.id: entry for entry in runs}
        assert list(back) == [done.id, failed.id, running.id]
        summary = back[done.id].summary()
        assert (summary["state"], summary["status"]) == ("finished", "completed")
        assert summary["record"]["output"] == "HI"  # the pattern's own fields are kept
        assert summary["mermaid"] == record.to_mermaid()
        assert back[failed.id].status == "failed" and back[failed.id].error == "ValueError: boom"
        assert back[failed.id].message.startswith("<object object")
        interrupted = back[running.id]
        assert (interrupted.state, interrupted.status) == ("finished", "interrupted")
        assert interrupted.done.is_set() and interrupted.message == "still going"
        assert interrupted.error is not None and "interrupted" in interrupted.error
    async with DurableStore(path) as store:  # saved as interrupted: stays so
        runs = RunStore()
        await runs.open(store)
        assert [entry.status for entry in runs] == ["completed", "failed", "interrupted"]


async def test_runs_forgotten_in_memory_are_forgotten_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    async with DurableStore(path) as store:
        runs = RunStore(keep=2)
        await runs.open(store)
        entries = [RunEntry("w", n) for n in range(4)]
        for entry in entries:
            runs.add(entry)
            entry.finish(RunRecord(pattern="p", run_id=entry.id, status=RunStatus.PARTIAL))
    async with DurableStore(path) as store:
        runs = RunStore(keep=10)
        await runs.open(store)
        assert [entry.id for entry in runs] == [entries[2].id, entries[3].id]


TEAM = f"""
[team]
python_path = ["{REPO}"]

[agents.journal]
kind = "python"
factory = "tests.durable.actors:Journal"

[agents.echo]
kind = "python"
factory = "tests.daemon.actors:Echo"
"""


async def test_a_team_file_store_is_relative_to_the_file_and_names_declared_agents(
    tmp_path: Path,
) -> None:
    config = parse_config(TEAM + '\n[store]\npath = "state/team.db"\nactors = ["journal"]\n')
    async with Team(config, base_dir=tmp_path) as team:
        await team.tell("journal", "kept")
        await team.tell("echo", "plain")
        assert await team.ask("journal", "log") == ["kept"]
        kinds = {name: type(team.system.cell(name).mailbox).__name__  # type: ignore[union-attr]
                 for name in ("journal", "echo")}  # fmt: skip
        assert kinds == {"journal": "DurableMailbox", "echo": "Mailbox"}
    assert (tmp_path / "state" / "team.db").exists()  # its folder made too
    wrong = parse_config(TEAM + '\n[store]\npath = "team.db"\nactors = ["journal", "ghost"]\n')
    with pytest.raises(ConfigError, match=r"store\.actors: unknown agent 'ghost'"):
        async with Team(wrong, base_dir=tmp_path):
            pass
