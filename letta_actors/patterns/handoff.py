"""Handoff: a session with a current agent, which hands the user over with a ``transfer`` tool.

The agent that holds the conversation answers the user; when another agent should take over,
it calls the ``transfer`` tool (structured: the target agent, from an enum of the agents it is
linked to on the bus, and a reason). The session then asks the target with a *handoff note*
(who handed over and why) plus the recent transcript and the user's message. A cap on
handoffs per user message stops ping-pong loops. See ``docs/patterns-handoff-consensus.md``.

The channel between the tool (which runs inside the agent actor) and the run is the message
itself: the session sends a :class:`HandoffMessage` — a ``str`` (so any actor, and
``LettaAgent.render``, sees plain text) carrying the per-turn :class:`HandoffChannel`. The tool
factory :func:`handoff_tools` offers ``transfer`` only while the agent handles such a message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..letta import ClientTool, ToolContext, ToolError
from ._carrier import ChannelMessage, channel_of
from ._outputs import output_text
from ._record import RunRecord, RunStatus, summarize
from ._run import Run, RunControl, running

if TYPE_CHECKING:
    from ..letta import LettaAgent
    from ..system import ActorSystem

#: The name of the handoff tool offered to the agents of a session.
TRANSFER = "transfer"


class HandoffSpec(BaseModel):
    """A handoff session, declared.

    - ``agents``: the actors taking part (Letta agents spawned with
      ``tool_factories=[handoff_tools]``, or any actor that understands a
      :class:`HandoffMessage`); ``entry``: the one the user talks to first (default the first).
    - ``links``: ``(from, to)`` pairs linked on the bus (one way) when the session is created;
      an agent may only hand over to its bus peers that are session agents.
    - ``max_handoffs_per_message``: accepted handoffs per user message; further ``transfer``
      calls are refused (the agent must answer) and the message's record is ``partial``.
    - ``transcript_window``: transcript entries (user and agent messages) given to the
      receiving agent with the handoff note.
    - ``turn_timeout``: seconds one agent turn may take (the system's ask timeout when None).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "handoff"
    agents: tuple[str, ...] = Field(min_length=1)
    entry: str | None = None
    links: tuple[tuple[str, str], ...] = ()
    max_handoffs_per_message: int = Field(default=3, ge=0, le=100)
    transcript_window: int = Field(default=10, ge=0, le=1000)
    turn_timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> HandoffSpec:
        if len(set(self.agents)) != len(self.agents):
            raise ValueError("agents must be unique")
        if self.entry is not None and self.entry not in self.agents:
            raise ValueError(f"entry agent {self.entry!r} is not one of the agents")
        for a, b in self.links:
            if a not in self.agents or b not in self.agents or a == b:
                raise ValueError(f"link {a!r} -> {b!r} must join two different session agents")
        return self

    @property
    def entry_agent(self) -> str:
        return self.entry if self.entry is not None else self.agents[0]


class Handoff(BaseModel):
    """One accepted handoff: ``from_agent`` handed the user to ``to_agent`` because ``reason``."""

    from_agent: str
    to_agent: str
    reason: str
    message_index: int = Field(description="0-based index of the user message in the session")
    at: float = Field(default=0.0, description="seconds since the message's run started")


class RefusedHandoff(BaseModel):
    """A ``transfer`` call that was refused (answered with a tool error)."""

    from_agent: str
    to_agent: str
    reason: str
    why: str


class TranscriptEntry(BaseModel):
    """One message of the session: ``speaker`` is ``user`` or an agent name."""

    speaker: str
    text: str


class AgentTurn(BaseModel):
    """One agent turn of a user message: what the agent said and whether it handed over."""

    agent: str
    text: str = ""
    handed_to: str | None = None
    error: str | None = None


class HandoffTurn(RunRecord):
    """The record of one user message in a handoff session.

    ``reply`` / ``answered_by``: the final answer and the agent that gave it (``None`` when the
    run failed, timed out or was cancelled before an answer). ``handoffs``: the accepted ones,
    in order; ``refused``: refused ``transfer`` calls; ``capped``: the handoff cap was hit
    (status ``partial``); ``turns``: every agent turn.
    """

    session: str = ""
    message_index: int = 0
    message: str = ""
    entry_agent: str = ""
    reply: str | None = None
    answered_by: str | None = None
    handoffs: list[Handoff] = Field(default_factory=list)
    refused: list[RefusedHandoff] = Field(default_factory=list)
    capped: bool = False
    turns: list[AgentTurn] = Field(default_factory=list)

    @property
    def chain(self) -> list[str]:
        """The agents that held the conversation, in order (entry agent first)."""
        return [self.entry_agent, *(h.to_agent for h in self.handoffs)]


class HandoffChannel:
    """What the ``transfer`` tool of one agent turn talks to (held by a :class:`HandoffMessage`).

    ``allowed``: the agents this turn may hand over to; ``remaining``: handoffs left under the
    cap. The first valid :meth:`transfer` of the turn wins; later ones are refused.
    """

    def __init__(
        self, run: Run, record: HandoffTurn, agent: str, allowed: list[str], remaining: int
    ) -> None:
        self.run = run
        self.record = record
        self.agent = agent
        self.allowed = allowed
        self.remaining = remaining
        self.request: Handoff | None = None

    def transfer(self, agent: str, target: str, reason: str) -> str:
        """Accept or refuse a handoff of ``agent`` to ``target``; raises :class:`ToolError`."""
        reason = " ".join(reason.split())
        why: str | None = None
        if agent != self.agent:
            why = f"{agent!r} does not hold the conversation"
        elif target not in self.allowed:
            can = ", ".join(self.allowed) or "nobody"
            why = f"{target!r} is not an agent you can hand over to (you can hand over to: {can})"
        elif not reason:
            why = "a handoff needs a reason"
        elif self.request is not None:
            why = f"you already handed the user over to {self.request.to_agent!r}"
        elif self.remaining <= 0:
            why = (
                "the handoff limit for this message is reached; "
                "do not transfer again, answer the user yourself"
            )
            self.record.capped = True
        if why is not None:
            self.record.refused.append(
                RefusedHandoff(from_agent=agent, to_agent=target, reason=reason, why=why)
            )
            self.run.event("note", agent, None, f"handoff to {target} refused: {why}")
            raise ToolError(f"transfer refused: {why}")
        self.request = Handoff(
            from_agent=agent,
            to_agent=target,
            reason=reason,
            message_index=self.record.message_index,
            at=round(self.run.now(), 6),
        )
        return (
            f"The user is being handed over to {target}. Say a short goodbye; "
            f"{target} will answer the user's message."
        )


class HandoffMessage(ChannelMessage[HandoffChannel]):
    """The text an agent of a session receives, carrying the turn's :class:`HandoffChannel`.

    A ``str`` subclass: Letta agents send it as the user message, plain actors read it as
    text; the ``transfer`` tool (or a Python actor) reaches the session through ``channel``.
    """

    def transfer(self, target: str, reason: str) -> str:
        """For plain actors: hand the user over (same rules as the ``transfer`` tool)."""
        return self.channel.transfer(self.channel.agent, target, reason)


def _channel_of(agent: LettaAgent) -> HandoffChannel | None:
    channel: HandoffChannel | None = channel_of(agent, HandoffMessage)
    return channel


async def _transfer(ctx: ToolContext, agent: str, reason: str) -> str:
    channel = _channel_of(ctx.agent)
    if channel is None:
        raise ToolError("transfer is only possible during a handoff session")
    return channel.transfer(ctx.agent.name, agent, reason)


def handoff_tools(agent: LettaAgent) -> list[ClientTool]:
    """Tool factory for ``LettaAgent(..., tool_factories=[handoff_tools])``.

    Offers ``transfer(agent, reason)`` — ``agent`` an enum of the agents this one may hand
    over to — only while the agent handles a :class:`HandoffMessage` with someone to hand to.
    """
    channel = _channel_of(agent)
    if channel is None or not channel.allowed:
        return []
    return [
        ClientTool(
            name=TRANSFER,
            description=(
                "Hand the user over to another agent who is better placed to help "
                f"(you can hand over to: {', '.join(channel.allowed)}). Give the reason; "
                "the other agent receives it with the recent conversation."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "agent": {
                        "type": "string",
                        "enum": list(channel.allowed),
                        "description": "the agent to hand the user over to",
                    },
                    "reason": {
                        "type": "string",
                        "description": "why this agent should take over",
                    },
                },
                "required": ["agent", "reason"],
            },
            handler=_transfer,
            wants_context=True,
        )
    ]


def handoff_note(
    handoff: Handoff, transcript: list[TranscriptEntry], message: str, window: int
) -> str:
    """The text the receiving agent gets: who handed over and why, the recent transcript and
    the user's message to answer."""
    lines = [
        f"[Handoff] {handoff.from_agent} handed the user over to you.",
        f"Reason: {handoff.reason}",
    ]
    recent = transcript[-window:] if window else []
    if recent:
        lines.append(f"Recent conversation ({len(recent)} messages, oldest first):")
        lines += [f"- {entry.speaker}: {summarize(entry.text, 500)}" for entry in recent]
    lines.append(f"The user's message to answer now: {message}")
    return "\n".join(lines)


class HandoffSession:
    """A conversation with a team of agents, one of which holds it at a time.

    ``await session.send(text)`` returns a :class:`HandoffTurn` per user message. The session
    keeps the current agent, the transcript and every handoff (:attr:`handoffs`) across
    messages; one message is handled at a time.
    """

    def __init__(self, system: ActorSystem, spec: HandoffSpec) -> None:
        self.system = system
        self.spec = spec
        self.current = spec.entry_agent
        self.transcript: list[TranscriptEntry] = []
        self.handoffs: list[Handoff] = []
        self.records: list[HandoffTurn] = []
        self._busy = False
        for a, b in spec.links:
            system.bus.link(a, b, both_ways=False)

    def targets(self, agent: str) -> list[str]:
        """The agents ``agent`` may hand over to: its bus peers that are session agents."""
        peers = self.system.bus.peers(agent)
        return [name for name in self.spec.agents if name in peers and name != agent]

    async def send(
        self, text: str, *, timeout: float | None = None, control: RunControl | None = None
    ) -> HandoffTurn:
        """Handle one user message: the current agent answers or hands over (up to the cap).

        Always returns the message's record: ``completed`` with the reply; ``partial`` when
        the cap stopped a handoff loop (the last agent still answered); ``failed`` on an agent
        error; ``timed_out`` / ``cancelled`` with what was done (handoffs are kept).
        """
        if self._busy:
            raise RuntimeError("a handoff session handles one user message at a time")
        self._busy = True
        try:
            return await self._send(str(text), timeout, control)
        finally:
            self._busy = False

    async def _send(
        self, text: str, timeout: float | None, control: RunControl | None
    ) -> HandoffTurn:
        spec = self.spec
        record = HandoffTurn(
            pattern=f"handoff:{spec.name}",
            run_id="",
            session=spec.name,
            message_index=len(self.records),
            message=text,
            entry_agent=self.current,
        )
        self.records.append(record)
        self.transcript.append(TranscriptEntry(speaker="user", text=text))
        async with running(self.system, record, timeout=timeout, control=control) as run:
            await self._converse(run, record, text)
        if record.capped and record.status is RunStatus.COMPLETED:
            record.status = RunStatus.PARTIAL
            record.error = f"handoff cap of {spec.max_handoffs_per_message} reached"
        return record

    async def _converse(self, run: Run, record: HandoffTurn, text: str) -> None:
        spec = self.spec
        message = text
        while True:
            agent = self.current
            remaining = spec.max_handoffs_per_message - len(record.handoffs)
            channel = HandoffChannel(run, record, agent, self.targets(agent), remaining)
            turn = AgentTurn(agent=agent)
            record.turns.append(turn)
            try:
                reply = await run.ask(
                    agent, HandoffMessage(message, channel), source="user",
                    timeout=spec.turn_timeout,
                )  # fmt: skip
            except anyio.get_cancelled_exc_class():
                turn.error = "the run was stopped"
                self._accept(run, record, channel, turn)  # a transfer already made still counts
                raise
            except Exception as exc:
                turn.error = f"{type(exc).__name__}: {exc}"
                if not self._accept(run, record, channel, turn):
                    raise
                message = self._note(channel, text)
                continue
            answer = output_text(reply)
            turn.text = answer if isinstance(answer, str) else summarize(answer)
            if turn.text:
                self.transcript.append(TranscriptEntry(speaker=agent, text=turn.text))
            if not self._accept(run, record, channel, turn):
                record.reply, record.answered_by = turn.text, agent
                return
            message = self._note(channel, text)

    def _accept(
        self, run: Run, record: HandoffTurn, channel: HandoffChannel, turn: AgentTurn
    ) -> bool:
        """Apply the turn's handoff, if any: the target becomes the current agent."""
        handoff = channel.request
        if handoff is None or turn.handed_to is not None:
            return False
        turn.handed_to = handoff.to_agent
        record.handoffs.append(handoff)
        self.handoffs.append(handoff)
        self.current = handoff.to_agent
        run.event("handoff", handoff.from_agent, handoff.to_agent, handoff.reason)
        return True

    def _note(self, channel: HandoffChannel, text: str) -> str:
        assert channel.request is not None
        # The transcript ends with the user's message (and maybe the goodbye): all context.
        return handoff_note(channel.request, self.transcript, text, self.spec.transcript_window)


__all__ = [
    "TRANSFER",
    "AgentTurn",
    "Handoff",
    "HandoffChannel",
    "HandoffMessage",
    "HandoffSession",
    "HandoffSpec",
    "HandoffTurn",
    "RefusedHandoff",
    "TranscriptEntry",
    "handoff_note",
    "handoff_tools",
]
