"""Actor names as key-value keys: readable when they can be, reversible always."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from letta_actors.cluster._keys import from_key, to_key

VALID_KEY = re.compile(r"^[-/_=.A-Za-z0-9]+$")  # what NATS accepts in a key


def test_plain_names_are_their_own_key() -> None:
    assert to_key("agent-7_b") == "agent-7_b"


@given(st.text(min_size=1, max_size=80))
def test_every_name_has_a_valid_key_and_comes_back(name: str) -> None:
    key = to_key(name)
    assert VALID_KEY.match(key)
    assert from_key(key) == name


def test_names_that_look_encoded_do_not_collide() -> None:
    assert to_key("b64.YQ") != to_key("a")
    assert from_key(to_key("b64.YQ")) == "b64.YQ"
