"""The envelope: one message in flight, with its addressing and call chain.

``Envelope`` is a slotted standard-library dataclass, so building one on the hot path costs a
plain object allocation and no validation. Pydantic validates and serialises it only at the edges
(:meth:`Envelope.to_json` / :meth:`Envelope.from_json`), for persisting or shipping messages.
``Bus.post`` sets a told envelope's fields one by one without calling ``__init__`` (~0.1 us of
a ~1.5 us tell): a new field must be set there too (``tests/test_hot_paths.py`` checks), and
``__post_init__`` would not run.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, TypeAdapter

from ._reply import ReplySlot


@dataclasses.dataclass(slots=True, eq=False)
class Envelope:
    """A message with its metadata.

    - ``id``: unique within its :class:`~letta_actors.ActorSystem` (a counter, cheap to make),
      or the id the sender gave (``bus.tell(..., message_id=...)``, e.g. the daemon API's). A
      durable mailbox or the cluster's wire makes an int id a str unique across processes.
    - ``sender``: the sending actor's name, or ``None`` when sent from outside any actor.
    - ``recipient``: the addressed actor's name.
    - ``topic``: the topic it was published on, if it came through ``publish``.
    - ``payload``: the message itself.
    - ``correlation_id``: for an ask, the id that ties the reply to the request.
    - ``chain``: the actors blocked waiting on this message, outermost first. An ask whose
      recipient is already in the chain would deadlock and is refused (:class:`AskCycle`).
    - ``sent_at``: wall-clock time (``time.time()``) at which it was sent.
    - ``attempt``: delivery attempt, 1 for the first; a supervisor may redeliver a told message
      whose handling crashed the actor (``max_attempts``).
    - ``trace``: the sender's trace context (W3C headers), set only when a tracer is installed
      on the system (see ``letta_actors.tracing``); ``None`` otherwise.
    """

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(arbitrary_types_allowed=True)

    id: int | str
    recipient: str
    payload: Any
    sent_at: float
    sender: str | None = None
    topic: str | None = None
    correlation_id: int | str | None = None
    chain: tuple[str, ...] = ()
    attempt: int = 1
    # Where an ask's reply goes; never serialised.
    reply_to: Annotated[ReplySlot | None, Field(exclude=True)] = dataclasses.field(
        default=None, repr=False
    )
    trace: dict[str, str] | None = dataclasses.field(default=None, repr=False)

    @property
    def is_ask(self) -> bool:
        """True when a caller is waiting for the reply to this message."""
        return self.reply_to is not None

    def to_json(self) -> bytes:
        """Serialise to JSON (the payload must be JSON-serialisable by pydantic)."""
        return _ADAPTER.dump_json(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> Envelope:
        """Parse and validate JSON made by :meth:`to_json`; raises ``pydantic.ValidationError``."""
        return _ADAPTER.validate_json(data)


_ADAPTER: TypeAdapter[Envelope] = TypeAdapter(Envelope)
