"""Consensus: agents vote on a question, in parallel, optionally twice.

Each voter is asked with a :class:`BallotRequest` — a ``str`` (any actor, and
``LettaAgent.render``, sees plain text) carrying the voter's :class:`VoteChannel`. A Letta
agent spawned with ``tool_factories=[vote_tools]`` is offered the structured ``vote`` tool
(``option`` from an enum, ``reasoning``) while it handles one; an agent that answers in prose
is read with the text fallback (a ``VOTE: n`` line, see
:func:`~letta_actors.patterns._voting.parse_text_vote`); an agent that does neither (or
fails) abstains with source ``none``. Ballots are counted with
:func:`~letta_actors.patterns._voting.tally` under the spec's :class:`VotingRules`. With
``second_round`` every voter then sees the others' votes and reasoning and votes again.
See ``docs/patterns-handoff-consensus.md``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..letta import ClientTool, ToolContext, ToolError
from ._carrier import ChannelMessage, channel_of
from ._outputs import output_text
from ._record import RunRecord, RunStatus, summarize
from ._run import Run, RunControl, running
from ._voting import Ballot, Tally, VotingRules, parse_text_vote, tally

if TYPE_CHECKING:
    from ..letta import LettaAgent
    from ..system import ActorSystem

#: The name of the voting tool; :data:`ABSTAIN` is the option that abstains.
VOTE = "vote"
ABSTAIN = "abstain"

_TEXT_ABSTAIN = re.compile(r"\bVOTE\s*[:=]\s*\W*abstain", re.IGNORECASE)
_VOTE_LINE = re.compile(r"^.*\bVOTE\s*[:=].*$", re.IGNORECASE | re.MULTILINE)


class ConsensusSpec(BaseModel):
    """A vote, declared.

    - ``question`` and the ``rules`` (:class:`VotingRules`: options, quorum, tie-break,
      chair); ``options=[...]`` alone is accepted as shorthand for ``rules={"options": ...}``.
    - ``voters``: the actors that vote (the chair, if any, must be one of them).
    - ``second_round``: after the first round, every voter sees the others' votes and
      reasoning and votes again; the second round decides.
    - ``vote_timeout``: seconds one voter may take per round (the system's ask timeout when
      None); a voter that times out abstains (source ``none``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "consensus"
    question: str = Field(min_length=1)
    voters: tuple[str, ...] = Field(min_length=1)
    rules: VotingRules
    second_round: bool = False
    vote_timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _options_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "options" in data:
            data = dict(data)
            options = data.pop("options")
            rules = data.get("rules")
            if rules is None:
                data["rules"] = {"options": options}
            else:
                given = rules.options if isinstance(rules, VotingRules) else rules.get("options")
                if given is not None and tuple(given) != tuple(options):
                    raise ValueError("options and rules.options differ")
                if isinstance(rules, dict):
                    data["rules"] = {**rules, "options": options}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ConsensusSpec:
        if len(set(self.voters)) != len(self.voters):
            raise ValueError("voters must be unique")
        if any(option.casefold() == ABSTAIN for option in self.rules.options):
            raise ValueError(f"{ABSTAIN!r} is reserved: it cannot be an option")
        if self.rules.chair is not None and self.rules.chair not in self.voters:
            raise ValueError(f"the chair {self.rules.chair!r} is not a voter")
        return self

    @property
    def options(self) -> tuple[str, ...]:
        return self.rules.options


class VoteRound(BaseModel):
    """One round: a ballot per voter (in voter order) and their tally.

    ``complete`` is false when the run was stopped during the round (voters that had not
    voted then have a ``none`` ballot).
    """

    number: int
    ballots: list[Ballot] = Field(default_factory=list)
    tally: Tally | None = None
    complete: bool = False


class VoteChange(BaseModel):
    """A voter whose second-round vote differs from its first (``None``: abstention)."""

    agent: str
    before: str | None
    after: str | None


class ConsensusResult(RunRecord):
    """The record of a vote.

    ``rounds``: every round's ballots and tally. The outcome comes from the deciding round
    (the last complete one; ``decided_in``): ``decision`` (``None`` without quorum or with an
    unbroken tie), ``unanimous``, ``counts``, ``abstentions`` and ``reasoning`` per agent.
    ``changed``: votes changed in the second round; ``errors``: voters whose ask failed.
    A run stopped before any round completed has ``decision`` ``None`` and the counts of the
    incomplete round.
    """

    question: str = ""
    options: list[str] = Field(default_factory=list)
    voters: list[str] = Field(default_factory=list)
    rounds: list[VoteRound] = Field(default_factory=list)
    decided_in: int | None = None
    decision: str | None = None
    unanimous: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    abstentions: int = 0
    reasoning: dict[str, str] = Field(default_factory=dict)
    changed: list[VoteChange] = Field(default_factory=list)
    errors: dict[str, str] = Field(default_factory=dict)

    @property
    def ballots(self) -> list[Ballot]:
        """The ballots of the deciding round (or of the last round when none completed)."""
        round_ = self._final()
        return list(round_.ballots) if round_ is not None else []

    @property
    def tally(self) -> Tally | None:
        round_ = self._final()
        return round_.tally if round_ is not None else None

    def _final(self) -> VoteRound | None:
        complete = [r for r in self.rounds if r.complete]
        if complete:
            return complete[-1]
        return self.rounds[-1] if self.rounds else None


class VoteChannel:
    """Where one voter's ``vote`` tool puts its ballot (held by a :class:`BallotRequest`).

    The last valid vote of the turn counts.
    """

    def __init__(self, run: Run, agent: str, options: tuple[str, ...], round_: int) -> None:
        self.run = run
        self.agent = agent
        self.options = options
        self.round = round_
        self.ballot: Ballot | None = None

    def cast(self, agent: str, option: str, reasoning: str) -> str:
        """Record ``agent``'s vote (``abstain`` abstains); raises :class:`ToolError`."""
        if agent != self.agent:
            raise ToolError(f"{agent!r} cannot vote on behalf of {self.agent!r}")
        by_name = {o.casefold(): o for o in self.options}
        choice = option.strip()
        if choice.casefold() == ABSTAIN:
            chosen: str | None = None
        elif choice.casefold() in by_name:
            chosen = by_name[choice.casefold()]
        else:
            valid = ", ".join([*self.options, ABSTAIN])
            raise ToolError(f"{option!r} is not an option; vote for one of: {valid}")
        self.ballot = Ballot(
            agent=agent, option=chosen, reasoning=reasoning.strip(), source="tool",
            round=self.round,
        )  # fmt: skip
        return f"Vote recorded: {chosen or ABSTAIN}."


class BallotRequest(ChannelMessage[VoteChannel]):
    """The text a voter receives, carrying its :class:`VoteChannel`.

    A ``str`` subclass: Letta agents send it as the user message, plain actors read it as
    text; the ``vote`` tool (or a Python actor, with :meth:`vote`) reaches the run through
    ``channel``.
    """

    def vote(self, option: str, reasoning: str = "") -> str:
        """For plain actors: cast a structured vote."""
        return self.channel.cast(self.channel.agent, option, reasoning)


def _channel_of(agent: LettaAgent) -> VoteChannel | None:
    channel: VoteChannel | None = channel_of(agent, BallotRequest)
    return channel


async def _vote(ctx: ToolContext, option: str, reasoning: str) -> str:
    channel = _channel_of(ctx.agent)
    if channel is None:
        raise ToolError("there is no vote going on")
    return channel.cast(ctx.agent.name, option, reasoning)


def vote_tools(agent: LettaAgent) -> list[ClientTool]:
    """Tool factory for ``LettaAgent(..., tool_factories=[vote_tools])``.

    Offers ``vote(option, reasoning)`` — ``option`` an enum of the options plus ``abstain`` —
    only while the agent handles a :class:`BallotRequest`.
    """
    channel = _channel_of(agent)
    if channel is None:
        return []
    return [
        ClientTool(
            name=VOTE,
            description="Cast your vote on the question you were asked, with your reasoning.",
            parameters={
                "type": "object",
                "properties": {
                    "option": {
                        "type": "string",
                        "enum": [*channel.options, ABSTAIN],
                        "description": f"the option you vote for ('{ABSTAIN}' to abstain)",
                    },
                    "reasoning": {"type": "string", "description": "why you vote this way"},
                },
                "required": ["option", "reasoning"],
            },
            handler=_vote,
            wants_context=True,
        )
    ]


def ballot_text(
    question: str,
    options: tuple[str, ...],
    round_: int = 1,
    earlier: list[Ballot] | None = None,
    voter: str | None = None,
) -> str:
    """The text of a ballot request; ``earlier`` (round 2): the previous round's ballots."""
    lines = [f"Question: {question}", "Options:"]
    lines += [f"{i}. {option}" for i, option in enumerate(options, 1)]
    if round_ > 1 and earlier is not None:
        lines.append(f"Round {round_}: here is how everyone voted in round {round_ - 1}.")
        for ballot in earlier:
            who = "you" if ballot.agent == voter else ballot.agent
            choice = ballot.option or ("abstained" if ballot.source != "none" else "did not vote")
            reason = f": {summarize(ballot.reasoning, 600)}" if ballot.reasoning else ""
            lines.append(f"- {who} ({choice}){reason}")
        lines.append("Consider their reasoning, then vote again (you may keep your vote).")
    lines.append(
        f"Vote with the {VOTE} tool (option and reasoning). If you cannot use tools, end your "
        f"answer with a line 'VOTE: <option number>' (or 'VOTE: {ABSTAIN}')."
    )
    return "\n".join(lines)


def read_text_vote(agent: str, text: str, options: tuple[str, ...], round_: int) -> Ballot:
    """The ballot a prose answer gives: ``VOTE: n`` (source ``text``), an explicit
    ``VOTE: abstain`` (an abstention, source ``text``) or nothing usable (source ``none``)."""
    option = parse_text_vote(text, options)
    reasoning = _VOTE_LINE.sub("", text).strip() or text.strip()
    if option is not None or _TEXT_ABSTAIN.search(text):
        return Ballot(agent=agent, option=option, reasoning=reasoning, source="text", round=round_)
    return Ballot(agent=agent, option=None, reasoning=text.strip(), source="none", round=round_)


class Consensus:
    """Runs a :class:`ConsensusSpec`: voters are asked in parallel, each round is tallied.

    Status: ``completed`` when every voter voted (or abstained on purpose) in every round;
    ``partial`` when some did not (no vote, an error, a timeout: they count as abstentions);
    ``failed`` when nobody voted; ``timed_out`` / ``cancelled`` keep the ballots already cast
    (in-flight requests are cancelled).
    """

    def __init__(self, system: ActorSystem, spec: ConsensusSpec) -> None:
        self.system = system
        self.spec = spec

    async def run(
        self, *, timeout: float | None = None, control: RunControl | None = None
    ) -> ConsensusResult:
        spec = self.spec
        result = ConsensusResult(
            pattern=f"consensus:{spec.name}",
            run_id="",
            question=spec.question,
            options=list(spec.options),
            voters=list(spec.voters),
        )
        async with running(self.system, result, timeout=timeout, control=control) as run:
            first = await self._round(run, result, 1, None)
            if spec.second_round:
                await self._round(run, result, 2, first.ballots)
        self._conclude(run, result)
        return result

    async def _round(
        self, run: Run, result: ConsensusResult, number: int, earlier: list[Ballot] | None
    ) -> VoteRound:
        spec = self.spec
        round_ = VoteRound(number=number)
        result.rounds.append(round_)
        channels = {v: VoteChannel(run, v, spec.options, number) for v in spec.voters}
        ballots: dict[str, Ballot] = {}
        try:
            async with anyio.create_task_group() as tg:
                for voter in spec.voters:
                    text = ballot_text(spec.question, spec.options, number, earlier, voter)
                    request = BallotRequest(text, channels[voter])
                    tg.start_soon(self._ask, run, result, request, ballots)
            round_.complete = True
        finally:
            for voter in spec.voters:
                ballot = ballots.get(voter) or channels[voter].ballot
                if ballot is None:
                    why = "no vote: the run was stopped"
                    ballot = Ballot(agent=voter, option=None, reasoning=why, source="none",
                                    round=number)  # fmt: skip
                round_.ballots.append(ballot)
            round_.tally = tally(round_.ballots, spec.rules)
        return round_

    async def _ask(
        self, run: Run, result: ConsensusResult, request: BallotRequest, ballots: dict[str, Ballot]
    ) -> None:
        channel = request.channel
        voter, number = channel.agent, channel.round
        text = ""
        try:
            reply = await run.ask(voter, request, source="consensus",
                                  timeout=self.spec.vote_timeout)  # fmt: skip
        except Exception as exc:
            result.errors[voter] = f"round {number}: {type(exc).__name__}: {exc}"
        else:
            answer = output_text(reply)
            text = answer if isinstance(answer, str) else summarize(answer)
        ballot = channel.ballot
        if ballot is None:
            ballot = read_text_vote(voter, text, self.spec.options, number)
        if ballot.source == "none" and not ballot.reasoning:
            ballot.reasoning = result.errors.get(voter, "no vote")
        ballots[voter] = ballot
        choice = ballot.option or ABSTAIN
        run.event("vote", voter, "consensus", f"round {number}: {choice} ({ballot.source})")

    def _conclude(self, run: Run, result: ConsensusResult) -> None:
        final = result._final()
        if final is None or final.tally is None:
            return
        final_tally = final.tally
        result.counts = dict(final_tally.counts)
        result.abstentions = final_tally.abstentions
        result.reasoning = {b.agent: b.reasoning for b in final.ballots}
        if final.complete:
            result.decided_in = final.number
            result.decision = final_tally.winner
            result.unanimous = final_tally.unanimous
        if len(result.rounds) >= 2 and result.rounds[1].complete:
            before = {b.agent: b.option for b in result.rounds[0].ballots}
            result.changed = [
                VoteChange(agent=b.agent, before=before.get(b.agent), after=b.option)
                for b in result.rounds[1].ballots
                if before.get(b.agent) != b.option
            ]
        if result.status is RunStatus.COMPLETED:
            ballots = [b for r in result.rounds for b in r.ballots]
            if all(b.source == "none" for b in final.ballots):
                result.status = RunStatus.FAILED
                result.error = "no voter voted"
            elif any(b.source == "none" for b in ballots):
                result.status = RunStatus.PARTIAL
                missing = sorted({b.agent for b in ballots if b.source == "none"})
                result.error = f"no vote from: {', '.join(missing)}"
        outcome = result.decision or "no decision"
        counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
        run.event("note", "consensus", None, f"{outcome} ({counts}; round {final.number})")


__all__ = [
    "ABSTAIN",
    "VOTE",
    "BallotRequest",
    "Consensus",
    "ConsensusResult",
    "ConsensusSpec",
    "VoteChange",
    "VoteChannel",
    "VoteRound",
    "ballot_text",
    "read_text_vote",
    "vote_tools",
]
