"""Which node should own which actor: rendezvous (highest-random-weight) hashing.

Every node computes the same answer from the same actor names and live node names, with no
coordination. When a node joins, only the actors it now wins move (to it); when one leaves,
only its actors move, spread over the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def _weight(node: str, actor: str) -> int:
    digest = hashlib.blake2b(f"{node}\0{actor}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner_of(actor: str, nodes: Iterable[str]) -> str:
    """The node that should own ``actor``. Raises :class:`ValueError` if there is no node."""
    candidates = list(nodes)
    if not candidates:
        raise ValueError("no live node to place actors on")
    return max(candidates, key=lambda node: (_weight(node, actor), node))


def place(actors: Iterable[str], nodes: Iterable[str]) -> dict[str, str]:
    """Actor name -> the node that should own it."""
    live = sorted(set(nodes))
    return {actor: owner_of(actor, live) for actor in actors}
