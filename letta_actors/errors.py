"""Typed errors raised by the runtime. Every one derives from :class:`ActorError`, except
:class:`ToolError`, which a tool raises to refuse a call."""

from __future__ import annotations


class ActorError(Exception):
    """Base class of every error the runtime raises on its own behalf."""


class ToolError(Exception):
    """Raise in a tool to answer the agent with an error tool return carrying this text.

    A Letta agent's client-side tools raise it, and so do the channels through which a
    pattern's tools (``transfer``, ``vote``, ``delegate``) report to a run: the agent gets the
    text as the tool's error; a plain actor calling the channel gets the exception.
    """


class ActorNotFound(ActorError, LookupError):
    """No actor is registered under this name (``ask`` raises it; ``tell`` dead-letters instead)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no actor named {name!r}")
        self.name = name


class ActorStopped(ActorError):
    """The actor has stopped (or is stopping) and accepts no new messages."""

    def __init__(self, name: str, detail: str = "has stopped") -> None:
        super().__init__(f"actor {name!r} {detail}")
        self.name = name


class NameTaken(ActorError, ValueError):
    """An actor with this name is already registered in the system."""

    def __init__(self, name: str) -> None:
        super().__init__(f"an actor named {name!r} already exists")
        self.name = name


class MailboxFull(ActorError):
    """The recipient's mailbox is full and its overflow policy is ``fail``."""

    def __init__(self, name: str, capacity: int) -> None:
        super().__init__(f"mailbox of {name!r} is full (capacity {capacity})")
        self.name = name
        self.capacity = capacity


class AskTimeout(ActorError, TimeoutError):
    """No reply arrived within the ``ask`` timeout. A reply that arrives later is discarded."""

    def __init__(self, name: str, timeout: float) -> None:
        super().__init__(f"actor {name!r} did not reply within {timeout:g} s")
        self.name = name
        self.timeout = timeout


class AskCycle(ActorError):
    """Refused an ask that would deadlock: the recipient is already waiting on the asker.

    ``chain`` is the call chain (who waits on whom) that the new ask would have closed.
    """

    def __init__(self, name: str, chain: tuple[str, ...]) -> None:
        path = " -> ".join((*chain, name))
        super().__init__(f"ask to {name!r} refused: it would deadlock ({path})")
        self.name = name
        self.chain = chain


class NotLinked(ActorError):
    """The bus enforces links and the sender is not linked to the recipient."""

    def __init__(self, sender: str, recipient: str) -> None:
        super().__init__(f"{sender!r} is not linked to {recipient!r}")
        self.sender = sender
        self.recipient = recipient


class SystemStopped(ActorError):
    """The :class:`~letta_actors.ActorSystem` is not running (not started yet, or stopped)."""


class UnexpectedCancellation(ActorError):
    """An actor's own code raised a cancellation that no cancel scope around it had requested.

    Typically the handler awaited a sub-task that was cancelled: asyncio then raises
    ``CancelledError`` in the awaiting task although nobody cancelled that task. The runtime
    treats it as a crash of the actor (supervised like any exception); ``__cause__`` is the
    cancellation exception.
    """

    def __init__(self, name: str, where: str, cancelled: BaseException) -> None:
        super().__init__(
            f"actor {name!r} raised {type(cancelled).__name__} in {where} without being "
            "cancelled (did it await a task that was cancelled?)"
        )
        self.name = name
        self.__cause__ = cancelled


class SupervisionEscalated(ActorError):
    """A supervisor exceeded its restart intensity and the failure reached the root.

    ``child`` names the child whose failures exhausted the intensity; ``__cause__`` is the last
    exception it raised.
    """

    def __init__(self, supervisor: str, child: str, last_error: BaseException | None) -> None:
        detail = f"{type(last_error).__name__}: {last_error}" if last_error else "no error"
        super().__init__(
            f"supervisor {supervisor!r} gave up: child {child!r} exceeded its restart "
            f"intensity (last error: {detail})"
        )
        self.supervisor = supervisor
        self.child = child
        self.last_error = last_error
