"""Vote counting rules (pure functions)."""

from __future__ import annotations

import pydantic
import pytest

from letta_actors.patterns._voting import Ballot, VotingRules, parse_text_vote, tally

OPTIONS = ("postgres", "mongodb", "sqlite")


def ballots(*votes: str | None) -> list[Ballot]:
    return [Ballot(agent=f"a{i}", option=v) for i, v in enumerate(votes)]


def test_majority_winner_counts_and_abstentions() -> None:
    result = tally(ballots("postgres", "postgres", "sqlite", None), VotingRules(options=OPTIONS))
    assert result.counts == {"postgres": 2, "mongodb": 0, "sqlite": 1}
    assert result.winner == "postgres"
    assert (result.voters, result.abstentions) == (4, 1)
    assert result.quorum_met and not result.tie and not result.unanimous


def test_unanimity() -> None:
    result = tally(ballots("sqlite", "sqlite", "sqlite"), VotingRules(options=OPTIONS))
    assert result.unanimous and result.winner == "sqlite"


def test_quorum_not_met_means_no_decision() -> None:
    rules = VotingRules(options=OPTIONS, quorum=0.75)
    result = tally(ballots("postgres", "postgres", None, None), rules)
    assert not result.quorum_met
    assert result.winner is None
    assert tally(ballots(None, None), VotingRules(options=OPTIONS)).winner is None


@pytest.mark.parametrize(
    ("tie_break", "chair", "expected"),
    [("first_option", None, "postgres"), ("chair", "a1", "mongodb"), ("none", None, None)],
)
def test_tie_breaking(tie_break: str, chair: str | None, expected: str | None) -> None:
    rules = VotingRules(options=OPTIONS, tie_break=tie_break, chair=chair)  # type: ignore[arg-type]
    result = tally(ballots("postgres", "mongodb"), rules)
    assert result.tie and result.tied == ["postgres", "mongodb"]
    assert result.winner == expected


def test_chair_outside_the_tie_gives_no_decision() -> None:
    rules = VotingRules(options=OPTIONS, tie_break="chair", chair="a2")
    assert tally(ballots("postgres", "mongodb", None), rules).winner is None


def test_rules_are_validated() -> None:
    with pytest.raises(pydantic.ValidationError):
        VotingRules(options=("only",))
    with pytest.raises(pydantic.ValidationError, match="unique"):
        VotingRules(options=("a", "a"))
    with pytest.raises(pydantic.ValidationError, match="chair"):
        VotingRules(options=OPTIONS, tie_break="chair")
    with pytest.raises(pydantic.ValidationError):
        VotingRules(options=OPTIONS, quorum=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I weighed it all.\nVOTE: 2", "mongodb"),
        ("vote = SQLite.", "sqlite"),
        ("VOTE: 1 ... no wait\nVOTE: 3", "sqlite"),
        ("VOTE: 9", None),
        ("VOTE: abstain", None),
        ("I like postgres", None),
        ("**VOTE: postgres**", "postgres"),
    ],
)
def test_text_fallback(text: str, expected: str | None) -> None:
    assert parse_text_vote(text, OPTIONS) == expected
