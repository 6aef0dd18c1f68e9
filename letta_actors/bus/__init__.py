"""The bus: addressing by name, topics, peer-to-peer links, dead letters, and the delivery seam
(:class:`Recipient`, :class:`Route`) a transport implements to serve names held elsewhere."""

from ._bus import Bus
from ._dead_letters import DEAD_LETTERS_TOPIC, DeadLetter, DeadLetters
from ._delivery import LocalRecipient, Recipient, Route
from ._links import LinkGraph
from ._pace import YIELD_EVERY
from ._topics import Topics

__all__ = [
    "DEAD_LETTERS_TOPIC",
    "YIELD_EVERY",
    "Bus",
    "DeadLetter",
    "DeadLetters",
    "LinkGraph",
    "LocalRecipient",
    "Recipient",
    "Route",
    "Topics",
]
