"""What an exception escaping an actor's code means, and how it reaches an asker.

- A cancellation is the runtime's (a stop deadline, a teardown) only when a cancel scope around
  the actor was cancelled, or the task itself was; otherwise the actor's code raised it on its
  own (asyncio: it awaited a sub-task that was cancelled) and it is a crash like any exception.
- ``KeyboardInterrupt``, ``SystemExit`` and other non-``Exception`` errors stop the whole system.
- An asker gets a copy of the actor's exception (same type, same attributes), so raising it in
  the asker's task leaves the original's traceback (the one logged for the crash) untouched.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import anyio


def cancelled_from_outside() -> bool:
    """True when the running task has been cancelled by a cancel scope or ``task.cancel()``.

    Called where a cancellation exception escaped user code: False means the code raised it
    although nothing cancelled it.
    """
    if anyio.current_effective_deadline() <= anyio.current_time():
        return True  # -inf once a scope around us is cancelled; a passed deadline counts too
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not running on asyncio
        return False
    return task is not None and task.cancelling() > 0


def is_cancellation(exc: BaseException) -> bool:
    return isinstance(exc, anyio.get_cancelled_exc_class())


def sole_exception(group: BaseExceptionGroup[Any]) -> BaseException | None:
    """The only leaf exception of ``group`` (through nested groups), or None if several."""
    leaves: tuple[BaseException, ...] = group.exceptions
    while len(leaves) == 1:
        only = leaves[0]
        if not isinstance(only, BaseExceptionGroup):
            return only
        leaves = only.exceptions
    return None


def raise_unwrapped(group: BaseExceptionGroup[Any]) -> None:
    """Raise the sole exception of ``group`` as itself (cause and context kept), or the group."""
    sole = sole_exception(group)
    if sole is None:
        raise group
    context = sole.__context__
    try:
        raise sole
    finally:
        sole.__context__ = context  # not the group we are handling
        del sole, context, group


def _clone(exc: BaseException) -> BaseException | None:
    try:
        clone = copy.copy(exc)
    except Exception:
        try:  # a constructor with other parameters than ``args``: skip it
            clone = type(exc).__new__(type(exc), *exc.args)
            clone.__dict__.update(exc.__dict__)
        except Exception:
            return None
    if type(clone) is not type(exc) or clone.args != exc.args:
        return None
    notes = getattr(exc, "__notes__", None)
    if notes is not None:
        clone.__notes__ = list(notes)
    clone.__cause__ = exc.__cause__
    clone.__context__ = exc.__context__
    clone.__suppress_context__ = exc.__suppress_context__
    return clone.with_traceback(exc.__traceback__)


def for_asker(exc: BaseException, actor: str) -> BaseException:
    """What an asker raises for ``exc`` raised by ``actor``: a copy with one note naming the actor.

    The copy carries the actor's traceback, so the asker's traceback reads from the ask down
    into the actor's frames. An exception that cannot be copied is handed over as itself.
    """
    asker_copy = _clone(exc) or exc
    note = f"raised by actor {actor!r} while handling an ask"
    if note not in getattr(asker_copy, "__notes__", ()):
        asker_copy.add_note(note)
    return asker_copy
