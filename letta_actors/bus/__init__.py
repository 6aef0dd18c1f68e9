"""The bus: addressing by name, topics, peer-to-peer links and dead letters."""

from ._bus import Bus
from ._dead_letters import DEAD_LETTERS_TOPIC, DeadLetter, DeadLetters
from ._links import LinkGraph
from ._topics import Topics

__all__ = ["DEAD_LETTERS_TOPIC", "Bus", "DeadLetter", "DeadLetters", "LinkGraph", "Topics"]
