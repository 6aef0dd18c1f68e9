"""Spec validation shared by the patterns: the names a run addresses its parts by are unique."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def unique(items: tuple[T, ...], key: Callable[[T], str], what: str) -> tuple[T, ...]:
    """``items``, once checked that ``key`` tells them apart (else ``ValueError``:
    "``what`` must be unique")."""
    if len({key(item) for item in items}) != len(items):
        raise ValueError(f"{what} must be unique")
    return items
