"""Consensus votes: plain actors (no server) and Letta agents on the local stack.

The Letta tests script the LLM per voter and assert structure: ballots and their source,
counts, decision, tie-break, the second round, partial results.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pydantic
import pytest

from letta_actors import Actor, ActorSystem
from letta_actors.letta import LettaAgent, LettaConnection
from letta_actors.localstack import (
    AsyncScriptedLLMAdmin,
    LocalStack,
    Rule,
    ScriptedLLMAdmin,
    TextReply,
    ToolCall,
)
from letta_actors.localstack import ToolCallsReply as Calls
from letta_actors.patterns import RunControl, RunStatus
from letta_actors.patterns._voting import VotingRules
from letta_actors.patterns.consensus import (
    VOTE,
    BallotRequest,
    Consensus,
    ConsensusSpec,
    VoteChange,
    read_text_vote,
    vote_tools,
)

from .agent_fixtures import letta_conn, marker, spec_for

pytestmark = pytest.mark.anyio
__all__ = ["letta_conn"]

OPTIONS = ("postgres", "mongodb")
QUESTION = "Which database should the new service use?"


# -- without a server ----------------------------------------------------------------------


def test_spec_options_shorthand_and_validation() -> None:
    spec = ConsensusSpec.model_validate(
        {"question": "q?", "voters": ["a", "b"], "options": ["x", "y"], "second_round": True}
    )
    assert spec.options == ("x", "y")
    assert spec.rules == VotingRules(options=("x", "y"))
    with pytest.raises(pydantic.ValidationError):
        ConsensusSpec(question="q?", voters=("a", "a"), rules=VotingRules(options=("x", "y")))
    with pytest.raises(pydantic.ValidationError):  # the chair must vote
        rules = VotingRules(options=("x", "y"), tie_break="chair", chair="z")
        ConsensusSpec(question="q?", voters=("a",), rules=rules)
    with pytest.raises(pydantic.ValidationError):  # 'abstain' is reserved
        ConsensusSpec(question="q?", voters=("a",), options=("x", "Abstain"))  # type: ignore[call-arg]


def test_text_votes() -> None:
    ballot = read_text_vote("a", "I like it.\nVOTE: 2", OPTIONS, 1)
    assert (ballot.option, ballot.source, ballot.reasoning) == ("mongodb", "text", "I like it.")
    abstain = read_text_vote("a", "Not my field. VOTE: abstain", OPTIONS, 1)
    assert (abstain.option, abstain.source) == (None, "text")
    none = read_text_vote("a", "I think both are fine.", OPTIONS, 2)
    assert (none.option, none.source, none.round) == (None, "none", 2)


class Voter(Actor):
    """Votes ``choice`` through the channel (``text:`` prefix: in prose; ``silent``: no vote);
    in round 2 votes ``second`` when given."""

    def __init__(self, choice: str, second: str | None = None) -> None:
        self.choice, self.second = choice, second

    async def receive(self, message: Any) -> str:
        assert isinstance(message, BallotRequest)
        choice = self.second if message.channel.round == 2 and self.second else self.choice
        if choice == "silent":
            return "no opinion"
        if choice.startswith("text:"):
            return f"prose\nVOTE: {choice[5:]}"
        message.vote(choice, f"{self.name} likes {choice}")
        return "voted"


async def test_plain_actors_two_rounds() -> None:
    async with ActorSystem() as system:
        await system.spawn(lambda: Voter("postgres"), name="a")
        await system.spawn(lambda: Voter("text:2", second="postgres"), name="b")
        await system.spawn(lambda: Voter("silent"), name="c")
        spec = ConsensusSpec(question=QUESTION, voters=("a", "b", "c"), options=OPTIONS,  # type: ignore[call-arg]
                             second_round=True)  # fmt: skip
        result = await Consensus(system, spec).run(timeout=10)
    first, second = result.rounds
    assert [(b.option, b.source) for b in first.ballots] == [
        ("postgres", "tool"), ("mongodb", "text"), (None, "none"),
    ]  # fmt: skip
    assert result.changed == [VoteChange(agent="b", before="mongodb", after="postgres")]
    assert (result.decision, result.decided_in, result.unanimous) == ("postgres", 2, False)
    assert result.counts == {"postgres": 2, "mongodb": 0}
    assert result.abstentions == 1
    assert result.status is RunStatus.PARTIAL  # c never voted
    assert second.tally is not None
    assert second.tally.quorum_met


# -- Letta agents --------------------------------------------------------------------------

VOTERS = ("conservative", "innovative", "practical")


def vote(option: str, reasoning: str) -> Calls:
    return Calls(calls=[ToolCall(name=VOTE, arguments={"option": option, "reasoning": reasoning})])


def votes_by_tool(token: str, role: str, option: str, reasoning: str, **when: Any) -> list[Rule]:
    m = marker(token, role)
    return [
        Rule(system_contains=m, last_role="user", reply=vote(option, reasoning), **when),
        Rule(system_contains=m, last_role="tool", reply=TextReply(text="Voted."), **when),
    ]


def votes_by_text(token: str, role: str, text: str, **when: Any) -> Rule:
    return Rule(system_contains=marker(token, role), last_role="user",
                reply=TextReply(text=text), **when)  # fmt: skip


@pytest.fixture
async def voters(
    letta_conn: LettaConnection, letta_stack: LocalStack, agent_token: str
) -> AsyncIterator[ActorSystem]:
    async with ActorSystem() as system:
        for role in VOTERS:
            spec = spec_for(letta_stack, agent_token, role)
            factory = LettaAgent.factory(spec, letta_conn, tool_factories=[vote_tools])
            await system.spawn(factory, name=role)
        yield system


def requests_of(llm: ScriptedLLMAdmin, token: str, role: str) -> list[Any]:
    return [
        r for r in llm.requests() if r.view is not None and marker(token, role) in r.view.system
    ]


@pytest.mark.letta
async def test_votes_by_tool_and_by_text(
    voters: ActorSystem, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    scripted_llm.set_rules([
        *votes_by_tool(agent_token, "conservative", "postgres", "proven and boring"),
        votes_by_text(agent_token, "innovative", "Documents fit our data.\nVOTE: 2"),
        *votes_by_tool(agent_token, "practical", "postgres", "the team knows it"),
    ])  # fmt: skip
    spec = ConsensusSpec(question=QUESTION, voters=VOTERS, rules=VotingRules(options=OPTIONS))
    with anyio.fail_after(90):
        result = await Consensus(voters, spec).run(timeout=80)
    assert result.status is RunStatus.COMPLETED, result.error
    [round_] = result.rounds
    assert [(b.agent, b.option, b.source) for b in round_.ballots] == [
        ("conservative", "postgres", "tool"),
        ("innovative", "mongodb", "text"),
        ("practical", "postgres", "tool"),
    ]
    assert result.counts == {"postgres": 2, "mongodb": 1}
    assert (result.decision, result.unanimous, result.abstentions) == ("postgres", False, 0)
    assert result.reasoning == {
        "conservative": "proven and boring",
        "innovative": "Documents fit our data.",
        "practical": "the team knows it",
    }
    assert set(result.usage) == set(VOTERS)
    assert [e.kind for e in result.events].count("vote") == 3
    assert "conservative->>consensus: vote" in result.to_mermaid()
    # The vote tool was offered with the options (plus abstain) as an enum, and the question.
    first = requests_of(scripted_llm, agent_token, "conservative")[0]
    [tool] = [t for t in first.body["tools"] if t["function"]["name"] == VOTE]
    assert tool["function"]["parameters"]["properties"]["option"]["enum"] == [*OPTIONS, "abstain"]
    assert QUESTION in first.view.last_message


@pytest.mark.letta
async def test_an_agent_that_never_votes_abstains(
    voters: ActorSystem, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    scripted_llm.set_rules([
        *votes_by_tool(agent_token, "conservative", "postgres", "proven"),
        votes_by_text(agent_token, "innovative", "Both have merits; I cannot choose."),
        *votes_by_tool(agent_token, "practical", "abstain", "not my area"),
    ])  # fmt: skip
    spec = ConsensusSpec(question=QUESTION, voters=VOTERS, rules=VotingRules(options=OPTIONS))
    with anyio.fail_after(90):
        result = await Consensus(voters, spec).run(timeout=80)
    assert result.status is RunStatus.PARTIAL
    assert result.error == "no vote from: innovative"
    ballots = {b.agent: b for b in result.ballots}
    assert (ballots["innovative"].option, ballots["innovative"].source) == (None, "none")
    assert (ballots["practical"].option, ballots["practical"].source) == (None, "tool")
    assert result.abstentions == 2
    tally = result.tally
    assert tally is not None
    assert not tally.quorum_met  # 1 of 3 cast, quorum 0.5 needs 2
    assert result.decision is None


@pytest.mark.letta
async def test_tie_is_broken_by_the_chair(
    voters: ActorSystem, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    scripted_llm.set_rules([
        *votes_by_tool(agent_token, "conservative", "postgres", "proven"),
        *votes_by_tool(agent_token, "innovative", "mongodb", "flexible"),
        votes_by_text(agent_token, "practical", "I abstain.\nVOTE: abstain"),
    ])  # fmt: skip
    rules = VotingRules(options=OPTIONS, quorum=0.5, tie_break="chair", chair="innovative")
    spec = ConsensusSpec(question=QUESTION, voters=VOTERS, rules=rules)
    with anyio.fail_after(90):
        result = await Consensus(voters, spec).run(timeout=80)
    assert result.status is RunStatus.COMPLETED, result.error  # abstaining is a vote
    tally = result.tally
    assert tally is not None
    assert (tally.tie, tally.tied) == (True, list(OPTIONS))
    assert result.counts == {"postgres": 1, "mongodb": 1}
    assert result.decision == "mongodb"  # the chair's choice
    no_chair = spec.model_copy(update={"rules": VotingRules(options=OPTIONS, tie_break="none")})
    scripted_llm.reset()  # keep the rules
    with anyio.fail_after(90):
        again = await Consensus(voters, no_chair).run(timeout=80)
    assert again.counts == {"postgres": 1, "mongodb": 1}
    assert again.decision is None


@pytest.mark.letta
async def test_second_round_changes_a_vote(
    voters: ActorSystem, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    round2 = {"last_message_contains": "Round 2:"}
    scripted_llm.set_rules([
        votes_by_text(agent_token, "practical",
                      "Convinced by the others.\nVOTE: postgres", **round2),
        *votes_by_tool(agent_token, "conservative", "postgres", "proven and boring"),
        *votes_by_tool(agent_token, "innovative", "postgres", "transactions matter"),
        votes_by_text(agent_token, "practical", "Schemaless is quicker.\nVOTE: 2"),
    ])  # fmt: skip
    spec = ConsensusSpec(question=QUESTION, voters=VOTERS, rules=VotingRules(options=OPTIONS),
                         second_round=True)  # fmt: skip
    with anyio.fail_after(120):
        result = await Consensus(voters, spec).run(timeout=100)
    assert result.status is RunStatus.COMPLETED, result.error
    assert [r.number for r in result.rounds] == [1, 2]
    assert all(r.complete for r in result.rounds)
    assert result.rounds[0].tally is not None
    assert result.rounds[0].tally.counts == {"postgres": 2, "mongodb": 1}
    assert result.changed == [VoteChange(agent="practical", before="mongodb", after="postgres")]
    assert (result.decided_in, result.decision, result.unanimous) == (2, "postgres", True)
    assert result.counts == {"postgres": 3, "mongodb": 0}
    # The second-round request showed practical the others' reasoning.
    second = [r for r in requests_of(scripted_llm, agent_token, "practical")
              if "Round 2:" in r.view.last_message]  # fmt: skip
    assert len(second) == 1
    shown = second[0].view.last_message
    assert "- conservative (postgres): proven and boring" in shown
    assert "- innovative (postgres): transactions matter" in shown
    assert "- you (mongodb): Schemaless is quicker." in shown


@pytest.mark.letta
async def test_slow_voter_times_out_and_the_run_deadline_keeps_ballots(
    voters: ActorSystem, scripted_llm: ScriptedLLMAdmin, agent_token: str
) -> None:
    scripted_llm.set_rules([
        *votes_by_tool(agent_token, "conservative", "postgres", "proven"),
        *votes_by_tool(agent_token, "innovative", "postgres", "fine too"),
        Rule(system_contains=marker(agent_token, "practical"), latency_seconds=60,
             reply=TextReply(text="VOTE: 2")),
    ])  # fmt: skip
    # A vote timeout: the slow voter abstains (source none), the others decide.
    spec = ConsensusSpec(question=QUESTION, voters=VOTERS, rules=VotingRules(options=OPTIONS),
                         vote_timeout=3)  # fmt: skip
    with anyio.fail_after(60):
        result = await Consensus(voters, spec).run(timeout=50)
    assert result.status is RunStatus.PARTIAL
    assert "practical" in result.errors
    assert "Timeout" in result.errors["practical"]
    assert (result.decision, result.counts) == ("postgres", {"postgres": 2, "mongodb": 0})
    # A run deadline: the round is incomplete, the ballots cast are kept, no decision.
    no_limit = spec.model_copy(update={"vote_timeout": None})
    with anyio.fail_after(60):
        late = await Consensus(voters, no_limit).run(timeout=3)
    assert late.status is RunStatus.TIMED_OUT
    [round_] = late.rounds
    assert not round_.complete
    assert [(b.agent, b.option, b.source) for b in round_.ballots] == [
        ("conservative", "postgres", "tool"),
        ("innovative", "postgres", "tool"),
        ("practical", None, "none"),
    ]
    assert late.counts == {"postgres": 2, "mongodb": 0}
    assert (late.decision, late.decided_in) == (None, None)
    assert late.duration < 10


@pytest.mark.letta
async def test_cancel_from_outside(
    voters: ActorSystem,
    scripted_llm: ScriptedLLMAdmin,
    letta_stack: LocalStack,
    agent_token: str,
) -> None:
    scripted_llm.set_rules([
        Rule(system_contains=marker(agent_token, role), latency_seconds=60,
             reply=TextReply(text="VOTE: 1"))
        for role in VOTERS
    ])  # fmt: skip
    spec = ConsensusSpec(question=QUESTION, voters=VOTERS, rules=VotingRules(options=OPTIONS))
    control = RunControl()
    result: Any = None

    async def vote_run() -> None:
        nonlocal result
        result = await Consensus(voters, spec).run(timeout=80, control=control)

    with anyio.fail_after(60):
        async with (
            AsyncScriptedLLMAdmin(letta_stack.llm_root_url) as admin,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(vote_run)
            waited = await admin.wait(in_flight_at_least=3, wait_seconds=30)
            assert waited.satisfied
            control.cancel()
    assert result.status is RunStatus.CANCELLED
    assert [b.source for b in result.rounds[0].ballots] == ["none"] * 3
    assert result.decision is None
    # The abandoned asks cancelled their Letta runs: each agent answers the next ask at once.
    scripted_llm.set_rules(votes_by_text(agent_token, "conservative", "pong"))
    with anyio.fail_after(60):
        reply = await voters.bus.ask("conservative", "ping", timeout=50)
    assert (reply.text, reply.stop_reason) == ("pong", "end_turn")
    cell = voters.cell("conservative")
    assert cell is not None
    assert isinstance(cell.instance, LettaAgent)
    assert cell.instance.letta_stats.requests["cancelled"] >= 1
