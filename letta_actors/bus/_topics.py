"""Topics: named fan-out lists of subscribed actor names."""

from __future__ import annotations

from collections import Counter


class Topics:
    """Subscriptions per topic, in subscription order, with publish counts per topic."""

    def __init__(self) -> None:
        self._subscribers: dict[str, dict[str, None]] = {}
        self.published: Counter[str] = Counter()

    def subscribe(self, topic: str, name: str) -> None:
        """Subscribe ``name`` to ``topic`` (idempotent)."""
        if not topic:
            raise ValueError("topic must be a non-empty string")
        self._subscribers.setdefault(topic, {})[name] = None

    def unsubscribe(self, topic: str, name: str) -> None:
        """Remove a subscription; removing one that does not exist is not an error."""
        subscribers = self._subscribers.get(topic)
        if subscribers is not None:
            subscribers.pop(name, None)
            if not subscribers:
                del self._subscribers[topic]

    def subscribers(self, topic: str) -> tuple[str, ...]:
        return tuple(self._subscribers.get(topic, ()))

    def topics(self) -> dict[str, tuple[str, ...]]:
        return {topic: tuple(names) for topic, names in self._subscribers.items()}

    def forget(self, name: str) -> None:
        """Drop every subscription of ``name``."""
        for topic in list(self._subscribers):
            self.unsubscribe(topic, name)
