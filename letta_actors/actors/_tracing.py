"""The tracing hook: how the core lets a tracer see messages, without importing one.

An :class:`~letta_actors.ActorSystem` has ``tracer = None``. A :class:`Tracer` set there (e.g.
by :func:`letta_actors.tracing.install_tracing`) is called at a few points: when a message is
sent (it captures the sender's trace context into ``Envelope.trace``), around the handling of
each message, when a supervisor restarts children, and by the integrations (an agent's requests,
pattern runs) for spans of their own. With ``tracer`` ``None`` each point costs one attribute
read and one ``is None`` test; nothing here imports a tracing library.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from ._cell import ActorCell
    from ._envelope import Envelope

#: A span attribute value.
AttributeValue = str | bool | int | float | Sequence[str]
Attributes = Mapping[str, AttributeValue]
SpanKind = Literal["internal", "client", "consumer"]
Receive = Callable[[Any], Awaitable[Any]]


class SpanHandle(Protocol):
    """The span of a ``with tracer.span(...)`` block."""

    def set(self, key: str, value: AttributeValue) -> None:
        """Set an attribute."""

    def outcome(self, value: str, error: str | None = None) -> None:
        """Set the outcome (default: ``ok``, ``error`` on an exception, ``cancelled`` on a
        cancellation); with ``error``, the span's status is an error with that description."""

    def headers(self) -> dict[str, str]:
        """This span's W3C trace context (``traceparent``...), for an outgoing request."""


class Tracer(Protocol):
    """What the runtime calls when a tracer is installed on a system."""

    def capture(self) -> dict[str, str] | None:
        """The current trace context as W3C headers (``None`` when no span is active)."""

    def handler(self, cell: ActorCell, envelope: Envelope, receive: Receive) -> Receive:
        """``receive`` wrapped in a span of the handling of ``envelope``, a child of the
        context the envelope carries; it records the outcome and re-raises what ``receive``
        raised."""

    def restart(
        self,
        supervisor: str,
        failed: str,
        restarted: Sequence[str],
        *,
        strategy: str,
        delay: float,
        error: str | None,
    ) -> None:
        """Record a supervisor's decision to restart ``restarted`` after ``failed`` exited."""

    def span(
        self, name: str, attributes: Attributes | None = None, *, kind: SpanKind = "internal"
    ) -> AbstractContextManager[SpanHandle]:
        """A span, current inside the block (a child of the current one)."""

    def event(self, name: str, attributes: Attributes | None = None) -> None:
        """Add an event to the current span (nothing when none is recording)."""
