"""Restart intensity: how many restarts a supervisor tolerates in a sliding period."""

from __future__ import annotations

from collections import deque

from pydantic import BaseModel, ConfigDict, Field


class Intensity(BaseModel):
    """At most ``max_restarts`` restarts within any ``period`` seconds (Erlang/OTP's MaxR/MaxT).

    The restart that would be number ``max_restarts + 1`` within the period is not made: the
    supervisor stops all its children (in reverse start order) and fails, escalating to its
    parent. Our defaults are 3 restarts in 5 s (OTP: 1 in 5 s): LLM agents fail in bursts
    (a provider hiccup), and the backoff already paces the restarts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_restarts: int = Field(default=3, ge=0)
    period: float = Field(default=5.0, gt=0)


class RestartWindow:
    """The restart times of one supervisor, pruned to its period."""

    def __init__(self, intensity: Intensity) -> None:
        self.intensity = intensity
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Record a restart at ``now``; False when it exceeds the intensity (not recorded)."""
        times = self._times
        while times and now - times[0] >= self.intensity.period:
            times.popleft()
        if len(times) >= self.intensity.max_restarts:
            return False
        times.append(now)
        return True
