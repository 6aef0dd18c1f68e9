"""Durable mailboxes and run records on an embedded store (SQLite, standard library).

``DurableStore(path)`` is one SQLite file; ``await store.attach(system, actors)`` gives the
named actors :class:`DurableMailbox` es: a tell is stored before it returns and forgotten once
handled (at-least-once across a crash). See ``docs/durability.md``.
"""

from ._codec import Codec, DecodeError
from ._config import StoreSection
from ._mailbox import DurableMailbox
from ._store import DurableStore, StoreError, Sync

__all__ = [
    "Codec",
    "DecodeError",
    "DurableMailbox",
    "DurableStore",
    "StoreError",
    "StoreSection",
    "Sync",
]
