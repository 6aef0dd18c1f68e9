"""Rendezvous placement: deterministic, spread, and moving only what must move."""

from __future__ import annotations

from collections import Counter

import pytest

from letta_actors.cluster import owner_of, place

ACTORS = [f"actor-{i}" for i in range(300)]


def test_placement_is_deterministic_and_ignores_node_order() -> None:
    assert place(ACTORS, ["n1", "n2", "n3"]) == place(ACTORS, ["n3", "n1", "n2", "n1"])


def test_every_node_gets_a_share() -> None:
    counts = Counter(place(ACTORS, ["n1", "n2", "n3"]).values())
    assert set(counts) == {"n1", "n2", "n3"}
    assert min(counts.values()) >= 60  # 100 each on average; hashing is not exact


def test_a_joining_node_only_takes_actors_to_itself() -> None:
    before = place(ACTORS, ["n1", "n2"])
    after = place(ACTORS, ["n1", "n2", "n3"])
    moved = {a for a in ACTORS if before[a] != after[a]}
    assert moved
    assert all(after[a] == "n3" for a in moved)


def test_a_leaving_node_only_gives_away_its_own() -> None:
    before = place(ACTORS, ["n1", "n2", "n3"])
    after = place(ACTORS, ["n1", "n3"])
    assert {a for a in ACTORS if before[a] != after[a]} == {a for a in ACTORS if before[a] == "n2"}


def test_no_node_is_an_error() -> None:
    with pytest.raises(ValueError, match="no live node"):
        owner_of("a", [])
