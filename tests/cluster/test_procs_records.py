"""The multi-process harness's own checks: the team file it writes, and what it finds in the
recording actors' lines (duplicates, overlapping handling of one actor by two processes)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from .procs import Line, Records, TeamSpec, team_text, workload


def line(pid: int, key: str, start: int, end: int, actor: str = "a00") -> Line:
    return {"node": f"n{pid}", "pid": pid, "actor": actor, "key": key, "start": start, "end": end}


def test_the_team_file_declares_durable_recording_agents_and_short_leases(
    tmp_path: Path,
) -> None:
    spec = TeamSpec(actors=3, ttl=2.5, work=0.01, hold=True)
    team = tomllib.loads(team_text(spec, "nats://127.0.0.1:4222", tmp_path))
    assert team["cluster"]["leases"] == {"ttl": 2.5, "renew_interval": 0.5}
    assert "node" not in team["cluster"]
    assert list(team["agents"]) == ["a00", "a01", "a02"]
    agent = team["agents"]["a01"]
    assert agent["durable"] is True
    assert agent["args"] == {"record_dir": str(tmp_path), "work": 0.01, "hold": True}
    assert workload(spec, 4) == [("a00", "m-0"), ("a01", "m-1"), ("a02", "m-2"), ("a00", "m-3")]


def test_records_find_what_is_missing_and_what_was_handled_twice() -> None:
    records = Records([line(1, "a", 0, 1), line(1, "b", 1, 2), line(2, "b", 5, 6)], [])
    assert records.missing(["a", "b", "c"]) == {"c"}
    assert list(records.duplicates()) == ["b"]


def test_overlaps_are_handlings_of_one_actor_by_two_processes_at_once() -> None:
    apart = [line(1, "a", 0, 10), line(2, "b", 10, 20), line(1, "c", 20, 30)]
    assert Records(apart, []).overlaps() == []
    other_actor = [line(1, "a", 0, 10), line(2, "b", 5, 15, actor="a01")]
    assert Records(other_actor, []).overlaps() == []
    # A long handling on process 1 overlaps a later one of process 2, even with another
    # handling of process 1 in between.
    long = line(1, "a", 0, 100)
    late = line(2, "c", 50, 60)
    found = Records([long, line(1, "b", 10, 20), late], [])
    assert found.overlaps() == [(long, late)]
    assert found.overlaps(exempt=[long]) == []
