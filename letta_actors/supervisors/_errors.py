"""Errors a supervisor raises on its own behalf."""

from __future__ import annotations

from ..errors import NameTaken


class ChildAlreadyPresent(NameTaken):
    """``start_child`` named a child this supervisor keeps but does not run (OTP's
    ``{error, already_present}``): it was terminated, exited without restart, or waits for a
    restart. Its spec and its place in the start order are kept: use ``restart_child``, or
    ``delete_child`` before starting a new spec under that name."""

    def __init__(self, name: str, state: str) -> None:
        super().__init__(name)
        self.args = (
            f"supervisor already has a child named {name!r} ({state}): restart_child() it, "
            "or delete_child() it before starting a new one",
        )
        self.state = state
