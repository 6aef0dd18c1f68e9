"""The run store: finished runs beyond the cap are forgotten when a run is added *and* when one
finishes, oldest first; running runs never are."""

from __future__ import annotations

import pytest

from letta_actors.team import RunEntry, RunStore

pytestmark = pytest.mark.anyio


async def test_runs_are_pruned_when_they_finish_not_only_when_one_is_added() -> None:
    store = RunStore(keep=2)
    entries = [RunEntry("w", n) for n in range(4)]
    for entry in entries:
        store.add(entry)
    assert [e.id for e in store] == [e.id for e in entries]  # running runs are kept

    entries[2].finish(None, "boom")
    assert [e.id for e in store] == [entries[i].id for i in (0, 1, 3)]
    entries[0].finish(None)
    assert [e.id for e in store] == [entries[i].id for i in (1, 3)]
    entries[1].finish(None)  # at the cap: kept
    assert len(store) == 2 and store.get(entries[1].id) is entries[1]

    newest = RunEntry("w", 4)
    store.add(newest)  # the oldest finished run makes room
    assert [e.id for e in store] == [entries[3].id, newest.id]
    assert [e.id for e in store.running()] == [entries[3].id, newest.id]


async def test_the_store_never_exceeds_its_cap_once_runs_finish() -> None:
    store = RunStore(keep=3)
    for n in range(10):
        entry = RunEntry("w", n)
        store.add(entry)
        entry.finish(None)
        assert len(store) <= 3
    assert len(store) == 3


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="keep must be >= 1"):
        RunStore(keep=0)
