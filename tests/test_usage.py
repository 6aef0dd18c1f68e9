"""One ``Usage`` type for Letta replies and run records (``letta_actors.usage``)."""

from __future__ import annotations

import pydantic
import pytest

from letta_actors.letta import AgentReply
from letta_actors.letta import Usage as LettaUsage
from letta_actors.patterns import RunRecord
from letta_actors.patterns import Usage as PatternsUsage
from letta_actors.usage import Usage


def test_every_import_path_names_the_one_type() -> None:
    assert LettaUsage is Usage
    assert PatternsUsage is Usage
    reply = AgentReply(agent="a", agent_id="agent-1", otid="o")
    assert type(reply.usage) is Usage
    assert RunRecord.model_fields["usage"].annotation == dict[str, Usage]


def test_json_keeps_the_fields_of_both_former_types() -> None:
    reply_usage = AgentReply(agent="a", agent_id="agent-1", otid="o").usage.model_dump()
    assert {"prompt_tokens", "completion_tokens", "total_tokens", "steps"} <= set(reply_usage)
    run_usage = Usage.of_reply("plain text").model_dump()
    assert {"prompt_tokens", "completion_tokens", "steps", "requests"} <= set(run_usage)
    assert run_usage["requests"] == 1
    with pytest.raises(pydantic.ValidationError):
        Usage.model_validate({"tokens": 1})


def test_total_is_reported_or_prompt_plus_completion() -> None:
    assert Usage(prompt_tokens=3, completion_tokens=2).total_tokens == 5
    assert Usage(prompt_tokens=3, completion_tokens=2, total_tokens=9).total_tokens == 9
    reply = AgentReply(agent="a", agent_id="agent-1", otid="o")
    reply.usage.add(Usage(prompt_tokens=4, completion_tokens=1, total_tokens=6, steps=2))
    charged = Usage.of_reply(reply)
    assert charged == Usage(
        prompt_tokens=4, completion_tokens=1, total_tokens=6, steps=2, requests=1
    )
    total = Usage()
    total.add(charged)
    total.add(charged)
    assert (total.total_tokens, total.steps, total.requests) == (12, 4, 2)
