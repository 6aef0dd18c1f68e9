"""What a reply means as input for the next step."""

from __future__ import annotations

from typing import Any


def output_text(reply: Any) -> Any:
    """The text of a Letta ``AgentReply`` (its ``text``), or the reply itself."""
    text = getattr(reply, "text", None)
    return text if isinstance(text, str) else reply
