"""What became of a request whose outcome is unknown (the connection failed after sending it).

:class:`~._connection.LettaConnection` calls a recovery instead of resending a request that may
have arrived. The user message carries our ``otid`` and tool returns name their tool calls, so
the recovery looks them up among the agent's recent messages: found, it waits for the run to
end and reads back what the agent did (a :class:`~._turn.Turn` marked ``recovered``); surely
not delivered (no active run, or the server went down since), it answers ``RESEND``. Runs left
behind by a server that went down are cancelled. Past ``AgentOptions.recovery_wait`` with no
outcome readable, it raises :class:`LettaOutcomeUnknown` (the message is not sent twice).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import anyio

from ._connection import RESEND, _Resend
from ._errors import LettaOutcomeUnknown
from ._turn import TERMINAL_RUN, Turn, infer_stop

if TYPE_CHECKING:
    from ._agent import LettaAgent
    from ._requests import AgentRequests

log = logging.getLogger("letta_actors.letta")


class _Backoff:
    """Polls the server at growing intervals (0.2 s, doubling, at most 2 s)."""

    __slots__ = ("delay",)

    def __init__(self) -> None:
        self.delay = 0.2

    async def wait(self) -> None:
        await anyio.sleep(self.delay)
        self.delay = min(self.delay * 2, 2.0)


class Recovery:
    """The recoveries of one agent actor's requests (through its :class:`AgentRequests`)."""

    def __init__(self, agent: LettaAgent, requests: AgentRequests) -> None:
        self.agent = agent
        self.requests = requests

    async def user_message(self, otid: str, sent_at: float) -> Turn | _Resend:
        """The outcome of the user message ``otid`` sent at ``sent_at``, or ``RESEND``."""
        agent = self.agent
        deadline = time.monotonic() + agent.options.recovery_wait
        backoff = _Backoff()
        while True:
            # Runs first, then messages: a run that ends between the two reads has stored its
            # messages by the second (read the other way round, it would pass for not sent).
            active = await self.requests.active_runs()
            marker = await self._find("user_message", "otid", {otid})
            if marker is not None:
                log.info("%s: message %s had arrived; reading its outcome", agent.name, otid)
                return await self._outcome_after(marker, sent_at, deadline, otid)
            if await self._not_delivered(active, sent_at, deadline):
                log.info("%s: message %s did not arrive; sending it again", agent.name, otid)
                return RESEND
            await backoff.wait()

    async def tool_returns(self, ids: set[str], sent_at: float) -> Turn | _Resend:
        """The outcome of the tool returns answering ``ids`` sent at ``sent_at``, or ``RESEND``."""
        agent = self.agent
        deadline = time.monotonic() + agent.options.recovery_wait
        backoff = _Backoff()
        while True:
            active = await self.requests.active_runs()  # first: see user_message
            pending = {c.tool_call_id for c in await self.requests.pending_tool_calls()}
            if not ids & pending:
                marker = await self._find("tool_return_message", "tool_call_id", ids)
                if marker is not None:
                    return await self._outcome_after(marker, sent_at, deadline, "tool returns")
            elif await self._not_delivered(active, sent_at, deadline):
                return RESEND
            if time.monotonic() > deadline:
                raise LettaOutcomeUnknown(
                    f"{agent.name}: the tool returns were taken but their outcome is not readable",
                    otid="",
                    server=agent.connection.server,
                )
            await backoff.wait()

    async def _find(self, kind: str, attribute: str, values: set[str]) -> Any:
        """The recent message of type ``kind`` whose ``attribute`` is one of ``values``."""
        return next(
            (m for m in await self.requests.recent()
             if getattr(m, "message_type", None) == kind
             and getattr(m, attribute, None) in values),
            None,
        )  # fmt: skip

    def _server_was_down(self, since: float) -> bool:
        down = self.agent.connection.unreachable_at
        return down is not None and down >= since

    async def _not_delivered(
        self, active: list[str], sent_at: float, deadline: float
    ) -> bool | None:
        """True: the request surely did not arrive (resend); None: not known yet (wait).
        ``active``: the agent's active runs, read before the request was looked for."""
        if not active:
            return True
        if self._server_was_down(sent_at) or time.monotonic() > deadline:
            # A server that went down (or runs that never end) leaves runs 'created' forever.
            await self.requests.cancel_runs(active)
            return True
        return None

    async def _outcome_after(self, marker: Any, sent_at: float, deadline: float, otid: str) -> Turn:
        """What the agent did after ``marker`` (our message), once its run has ended."""
        agent = self.agent
        agent.letta_stats.requests["recovered"] += 1
        run_id = getattr(marker, "run_id", None)
        backoff = _Backoff()
        while True:
            after = await self.requests.after(marker.id)
            stop = infer_stop(after)
            if run_id is not None:
                run = await self.requests.run(run_id)
                if run.status in TERMINAL_RUN:
                    after = await self.requests.after(marker.id)
                    stop = run.stop_reason or infer_stop(after) or str(run.status)
                    return Turn.read_back(after, str(stop))
            if stop is not None and (self._server_was_down(sent_at) or run_id is None):
                return Turn.read_back(after, stop)
            if time.monotonic() > deadline:
                if stop is not None:
                    return Turn.read_back(after, stop)
                raise LettaOutcomeUnknown(
                    f"{agent.name}: message {otid} reached agent {agent.agent_id} but no "
                    "outcome could be read; it is not sent again",
                    otid=otid,
                    run_id=run_id,
                    server=agent.connection.server,
                )
            await backoff.wait()
