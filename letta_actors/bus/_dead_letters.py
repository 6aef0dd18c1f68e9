"""Dead letters: messages that could not be delivered or handled, kept with their reason."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator

from ..actors import DeadLetterReason, Envelope

#: Topic on which every dead letter is published (subscribe an actor to watch them).
DEAD_LETTERS_TOPIC = "system.dead_letters"


@dataclasses.dataclass(slots=True, frozen=True)
class DeadLetter:
    """One undeliverable or failed message: the envelope, why, and the error if any."""

    envelope: Envelope
    reason: DeadLetterReason
    error: BaseException | None = None
    at: float = dataclasses.field(default_factory=time.time)

    @property
    def error_text(self) -> str | None:
        return f"{type(self.error).__name__}: {self.error}" if self.error is not None else None


class DeadLetters:
    """A bounded, inspectable log of dead letters with running totals per reason.

    The log keeps the newest ``capacity`` entries (older ones fall off, but ``totals`` keeps
    counting). Each dead letter is also handed to ``publish`` (the bus publishes it on
    :data:`DEAD_LETTERS_TOPIC` without waiting; a watcher whose mailbox is full misses it).
    """

    def __init__(
        self, capacity: int = 1000, publish: Callable[[DeadLetter], None] | None = None
    ) -> None:
        if capacity < 1:
            raise ValueError(f"dead letter capacity must be >= 1, got {capacity}")
        self._log: deque[DeadLetter] = deque(maxlen=capacity)
        self.totals: Counter[DeadLetterReason] = Counter()
        self._publish = publish

    def record(
        self, envelope: Envelope, reason: DeadLetterReason, error: BaseException | None = None
    ) -> DeadLetter:
        letter = DeadLetter(envelope, reason, error)
        self._log.append(letter)
        self.totals[reason] += 1
        if self._publish is not None and envelope.topic != DEAD_LETTERS_TOPIC:
            self._publish(letter)
        return letter

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(tuple(self._log))

    def __len__(self) -> int:
        return len(self._log)

    @property
    def total(self) -> int:
        """Dead letters recorded since the start, including those fallen off the log."""
        return sum(self.totals.values())

    def by_reason(self, reason: DeadLetterReason) -> list[DeadLetter]:
        return [letter for letter in self._log if letter.reason is reason]

    def clear(self) -> None:
        """Empty the log (the totals keep counting)."""
        self._log.clear()
