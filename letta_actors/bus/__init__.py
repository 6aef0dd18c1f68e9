"""The bus: addressing by name, topics, peer-to-peer links and dead letters."""

from ._bus import Bus
from ._dead_letters import DEAD_LETTERS_TOPIC, DeadLetter, DeadLetters
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
    "Topics",
]
