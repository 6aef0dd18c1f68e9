"""What work cost: tokens and steps (as the LLM server reports them) and requests made.

One type for every place that counts it: a Letta agent's reply (``AgentReply.usage``), a run
record's usage per agent and each of its events, an orchestrator's delegations. It imports
nothing of the runtime, so any layer may use it.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator


class Usage(BaseModel):
    """Tokens, steps and requests, summed over what the holder covers: the rounds of one
    message for an ``AgentReply``, one agent's replies for a run's ``usage[agent]``.

    A count its source does not report stays 0.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    prompt_tokens: int = 0
    """Tokens of the prompts sent to the LLM."""
    completion_tokens: int = 0
    """Tokens the LLM generated."""
    total_tokens: int = 0
    """All tokens, as the server reports them; when not given at construction, prompt plus
    completion tokens."""
    steps: int = 0
    """Agent steps (LLM calls) the server ran."""
    requests: int = 0
    """Asks answered: a run counts one per reply it got (an ``AgentReply``'s own usage leaves
    it 0; its ``rounds`` counts the requests of one message)."""

    @model_validator(mode="after")
    def _default_total(self) -> Self:
        if "total_tokens" not in self.model_fields_set:
            self.total_tokens = self.prompt_tokens + self.completion_tokens
        return self

    def add(self, other: Usage) -> None:
        """Add ``other``'s counts to these."""
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens += other.total_tokens
        self.steps += other.steps
        self.requests += other.requests

    @classmethod
    def of_reply(cls, reply: Any) -> Usage:
        """One request, with the usage ``reply`` reports (a Letta ``AgentReply`` has ``usage``,
        with ``steps`` or Letta's ``step_count``); zero tokens for a reply without usage."""
        usage = getattr(reply, "usage", None)
        total = getattr(usage, "total_tokens", None)
        return cls(
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            steps=int(getattr(usage, "steps", 0) or getattr(usage, "step_count", 0) or 0),
            requests=1,
            **({} if total is None else {"total_tokens": int(total)}),
        )


__all__ = ["Usage"]
