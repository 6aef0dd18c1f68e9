"""Typed errors of Letta agent actors. Every one derives from :class:`LettaError`."""

from __future__ import annotations

from ..errors import ActorError


class LettaError(ActorError):
    """Base class of the errors a :class:`~letta_actors.letta.LettaAgent` raises."""


class LettaRequestFailed(LettaError):
    """A request to the Letta server failed for good (after the retry policy).

    ``status`` is the last attempt's outcome (``connection_error``, ``timeout``,
    ``server_error``, ``rate_limited``, ``client_error``, ``circuit_open``...),
    ``status_code`` the HTTP status when there was one, ``attempts`` how many attempts were made.
    """

    def __init__(
        self,
        message: str,
        *,
        status: str = "error",
        status_code: int | None = None,
        attempts: int = 1,
        server: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.status_code = status_code
        self.attempts = attempts
        self.server = server


class LettaCircuitOpen(LettaRequestFailed):
    """The circuit breaker of the Letta server is open: the request was not sent."""


class LettaOutcomeUnknown(LettaRequestFailed):
    """The message reached the agent (it is in its history) but its answer could not be read.

    It is *not* sent again (that would deliver it twice). ``otid`` identifies the message.
    """

    def __init__(
        self, message: str, *, otid: str, run_id: str | None = None, server: str = ""
    ) -> None:
        super().__init__(message, status="outcome_unknown", server=server)
        self.otid = otid
        self.run_id = run_id


class LettaAgentNotFound(LettaError, LookupError):
    """The agent id given in the spec does not exist on the server."""


class ToolLoopExceeded(LettaError):
    """The agent kept calling client-side tools past ``max_tool_rounds`` (plus the grace rounds)."""
