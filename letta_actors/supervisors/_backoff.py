"""Restart pacing: exponential backoff with jitter, reset after a stable run."""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Backoff(BaseModel):
    """How long a supervisor waits before restarting a child that keeps failing.

    Counting the child's *consecutive* restarts ``n`` (0 for the first restart after a stable
    run), the delay before restart ``n`` is::

        0                                              if n == 0 (restart at once)
        min(max_delay, min_delay * factor ** (n - 1))  otherwise, times a random factor
                                                       in [1 - jitter, 1 + jitter], capped
                                                       at max_delay

    so an isolated crash restarts at once and a crash loop slows down.

    ``n`` goes back to 0 once the child has run ``reset_after`` seconds without crashing.
    Messages sent during the wait stay queued in the mailbox for the new instance.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_delay: float = Field(default=0.1, ge=0)
    max_delay: float = Field(default=30.0, ge=0)
    factor: float = Field(default=2.0, ge=1)
    jitter: float = Field(default=0.2, ge=0, le=1)
    reset_after: float = Field(default=10.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Backoff:
        if self.max_delay < self.min_delay:
            raise ValueError("max_delay must be >= min_delay")
        return self

    def delay(self, consecutive: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before restart number ``consecutive`` (0-based) in a row."""
        if consecutive <= 0 or self.max_delay == 0:
            return 0.0
        base = min(self.max_delay, self.min_delay * self.factor ** (consecutive - 1))
        spread = (rng or random).uniform(1 - self.jitter, 1 + self.jitter) if self.jitter else 1.0
        return min(self.max_delay, base * spread)


NO_BACKOFF = Backoff(min_delay=0, max_delay=0)
