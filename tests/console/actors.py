"""Plain-Python actors of the console tests' team (``kind = "python"``)."""

from __future__ import annotations

from typing import Any

from letta_actors import Actor


class Voter(Actor):
    """Votes for ``choice`` on any ballot, with a line of reasoning."""

    def __init__(self, choice: str) -> None:
        self.choice = choice

    async def receive(self, message: Any) -> Any:
        return f"{self.choice} suits a team best.\nVOTE: {self.choice}"
