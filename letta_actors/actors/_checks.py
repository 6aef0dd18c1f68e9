"""Checks of values given at the API's edges: clear errors where the input is given."""

from __future__ import annotations


def seconds(value: object, what: str) -> float:
    """``value`` as a positive number of seconds (``math.inf`` allowed).

    Raises ``TypeError`` for anything but an int or a float (``bool`` and strings included),
    ``ValueError`` for zero, a negative number or NaN.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number of seconds, got {value!r}")
    if not value > 0:
        raise ValueError(f"{what} must be > 0 seconds, got {value!r}")
    return float(value)
