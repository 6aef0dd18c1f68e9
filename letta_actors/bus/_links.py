"""The link graph: which actor may message which peer directly."""

from __future__ import annotations


class LinkGraph:
    """Directed links between actor names. ``link(a, b)`` lets ``a`` message ``b`` (and ``b``
    message ``a`` unless ``both_ways=False``). Names need not exist yet: links are declared,
    actors come and go."""

    def __init__(self) -> None:
        self._out: dict[str, set[str]] = {}

    @staticmethod
    def _check(a: str, b: str) -> None:
        if not a or not b:
            raise ValueError("link ends must be non-empty actor names")
        if a == b:
            raise ValueError(f"cannot link {a!r} to itself")

    def link(self, a: str, b: str, *, both_ways: bool = True) -> None:
        self._check(a, b)
        self._out.setdefault(a, set()).add(b)
        if both_ways:
            self._out.setdefault(b, set()).add(a)

    def unlink(self, a: str, b: str, *, both_ways: bool = True) -> None:
        """Remove the link(s); removing a link that does not exist is not an error."""
        self._out.get(a, set()).discard(b)
        if both_ways:
            self._out.get(b, set()).discard(a)

    def linked(self, a: str, b: str) -> bool:
        """True when ``a`` may message ``b``."""
        peers = self._out.get(a)
        return peers is not None and b in peers

    def peers(self, name: str) -> frozenset[str]:
        """The names ``name`` may message."""
        return frozenset(self._out.get(name, ()))

    def edges(self) -> list[tuple[str, str]]:
        """Every directed link, sorted."""
        return sorted((a, b) for a, peers in self._out.items() for b in peers)

    def as_dict(self) -> dict[str, list[str]]:
        """Adjacency lists (sorted), for display and JSON."""
        return {a: sorted(peers) for a, peers in sorted(self._out.items()) if peers}

    def forget(self, name: str) -> None:
        """Remove every link from or to ``name``."""
        self._out.pop(name, None)
        for peers in self._out.values():
            peers.discard(name)
