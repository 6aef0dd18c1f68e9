"""The monitor notification: what a watcher receives when the actor it watches stops."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Terminated:
    """Sent to each watcher when the watched actor stops for good.

    ``reason``: ``"normal"`` (stopped or exited), ``"shutdown"`` (stopped by its supervisor
    or the system), ``"error"`` (crashed and not restarted; see ``error``), ``"noproc"``
    (it did not exist when watched).
    """

    name: str
    reason: str
    error: BaseException | None = None
