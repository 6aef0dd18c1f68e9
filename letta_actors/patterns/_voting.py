"""Vote counting for the consensus pattern: ballots in, a decision out (no I/O here)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BallotSource = Literal["tool", "text", "none"]
TieBreak = Literal["first_option", "chair", "none"]


class Ballot(BaseModel):
    """One agent's vote: an option, or ``None`` for an abstention (or no usable vote)."""

    agent: str
    option: str | None
    reasoning: str = ""
    source: BallotSource = "tool"
    round: int = 1


class VotingRules(BaseModel):
    """How ballots become a decision.

    - ``quorum``: the fraction of voters that must cast a non-abstaining ballot for the vote to
      count: at least ``ceil(quorum * voters)`` (default 0.5: 2 of 3, 2 of 4).
    - ``tie_break``: ``first_option`` (the tied option listed first wins), ``chair`` (the
      tied option the ``chair`` agent voted for wins, if it voted for one of them; otherwise no
      decision) or ``none`` (a tie is no decision).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    options: tuple[str, ...] = Field(min_length=2)
    quorum: float = Field(default=0.5, gt=0, le=1)
    tie_break: TieBreak = "first_option"
    chair: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> VotingRules:
        if len(set(self.options)) != len(self.options):
            raise ValueError("options must be unique")
        if self.tie_break == "chair" and not self.chair:
            raise ValueError("tie_break 'chair' needs a chair")
        return self


class Tally(BaseModel):
    """The outcome of one round of ballots."""

    counts: dict[str, int]
    voters: int
    abstentions: int
    quorum_met: bool
    tie: bool
    tied: list[str] = Field(default_factory=list)
    winner: str | None
    unanimous: bool


def tally(ballots: Sequence[Ballot], rules: VotingRules) -> Tally:
    """Count ``ballots`` (one per voter) under ``rules``."""
    counts = Counter({option: 0 for option in rules.options})
    for ballot in ballots:
        if ballot.option is not None:
            counts[ballot.option] += 1
    cast = sum(counts.values())
    voters = len(ballots)
    quorum_met = cast > 0 and cast >= math.ceil(rules.quorum * voters)
    top = max(counts.values()) if counts else 0
    leaders = [option for option in rules.options if counts[option] == top] if top else []
    tie = len(leaders) > 1
    winner: str | None = None
    if quorum_met and leaders:
        if not tie or rules.tie_break == "first_option":
            winner = leaders[0]
        elif rules.tie_break == "chair":
            chair_vote = next((b.option for b in ballots if b.agent == rules.chair), None)
            winner = chair_vote if chair_vote in leaders else None
    return Tally(
        counts=dict(counts),
        voters=voters,
        abstentions=voters - cast,
        quorum_met=quorum_met,
        tie=tie,
        tied=leaders if tie else [],
        winner=winner,
        unanimous=cast == voters > 0 and top == voters,
    )


_VOTE = re.compile(r"\bVOTE\s*[:=]\s*([^\n]+)", re.IGNORECASE)


def parse_text_vote(text: str, options: Sequence[str]) -> str | None:
    """The option a prose answer votes for: ``VOTE: n`` (1-based number) or ``VOTE: <option>``.

    The last ``VOTE:`` line wins; anything unrecognisable (or ``VOTE: abstain``) is ``None``.
    """
    matches = _VOTE.findall(text)
    if not matches:
        return None
    choice = matches[-1].strip().strip(".*`'\"").strip()
    if choice.isdigit():
        index = int(choice) - 1
        return options[index] if 0 <= index < len(options) else None
    by_name = {option.casefold(): option for option in options}
    return by_name.get(choice.casefold())
