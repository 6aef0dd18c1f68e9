"""Actor and node names as NATS key-value keys, and back.

A name made only of letters, digits, ``_`` and ``-`` is its own key; any other name is
``b64.`` + its URL-safe base64 (keys allow ``[-/_=.A-Za-z0-9]``), so every name has a key and
no two names share one.
"""

from __future__ import annotations

import base64
import re

_PLAIN = re.compile(r"^[A-Za-z0-9_-]+$")
_PREFIX = "b64."


def to_key(name: str) -> str:
    """The key of ``name``."""
    if _PLAIN.match(name):
        return name
    return _PREFIX + base64.urlsafe_b64encode(name.encode()).decode()


def from_key(key: str) -> str:
    """The name of ``key`` (inverse of :func:`to_key`)."""
    if key.startswith(_PREFIX):
        return base64.urlsafe_b64decode(key[len(_PREFIX) :].encode()).decode()
    return key
