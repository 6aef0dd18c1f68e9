"""The ``[store]`` section of a team file (the daemon's opt-in to the embedded store)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ._store import Sync


class StoreSection(BaseModel):
    """``[store]``: durable mailboxes and run records in one SQLite file.

    - ``path``: the file (relative to the team file's folder); created if missing.
    - ``actors``: the agents with a durable mailbox; default every declared agent.
    - ``sync``: ``"normal"`` survives a killed process, ``"full"`` also a power loss.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1)
    actors: tuple[str, ...] | None = None
    sync: Sync = "normal"
