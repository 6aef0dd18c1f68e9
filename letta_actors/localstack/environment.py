"""Where examples and the demo find a Letta server: a configured one, or the local stack."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from letta_client import APIError

from ..letta import LettaConnection
from .stack import LocalStack, LocalStackConfig

#: A real deployment sets these (the API key, if any, in ``LETTA_API_KEY``).
BASE_URL_VAR = "LETTA_BASE_URL"
MODEL_VAR = "LETTA_MODEL"
EMBEDDING_VAR = "LETTA_EMBEDDING"
DEFAULT_MODEL = "openai/gpt-4o-mini"
DEFAULT_EMBEDDING = "openai/text-embedding-3-small"


@dataclass(frozen=True)
class LettaEnvironment:
    """A Letta server to talk to, the model handles to use, and the local stack if started.

    ``stack`` is ``None`` against a configured server: then there is no scripted LLM, and a
    real model decides on its own (examples script the LLM only when ``stack`` is set).
    """

    base_url: str
    model: str
    embedding: str
    api_key: str | None
    stack: LocalStack | None

    @property
    def scripted(self) -> bool:
        return self.stack is not None

    @asynccontextmanager
    async def connect(
        self, *, cleanup_tag: str | None = None, **settings: Any
    ) -> AsyncIterator[LettaConnection]:
        """A :class:`LettaConnection` to this server (``settings`` as for it). With
        ``cleanup_tag``, the agents carrying that tag are deleted on the way out, whatever
        ended the block (an error or a cancellation included)."""
        async with LettaConnection(
            base_url=self.base_url, api_key=self.api_key, **settings
        ) as conn:
            try:
                yield conn
            finally:
                if cleanup_tag is not None:
                    with anyio.CancelScope(shield=True):
                        await delete_tagged_agents(conn, cleanup_tag)


async def delete_tagged_agents(connection: LettaConnection, tag: str) -> int:
    """Delete every agent carrying ``tag`` (best effort); returns how many were deleted."""
    try:
        ids = [agent.id async for agent in connection.client.agents.list(tags=[tag])]
        for agent_id in ids:
            await connection.client.agents.delete(agent_id)
    except APIError:
        return 0
    return len(ids)


@contextmanager
def letta_environment() -> Iterator[LettaEnvironment]:
    """With ``LETTA_BASE_URL`` set: that server, ``LETTA_MODEL`` / ``LETTA_EMBEDDING`` (defaults
    ``openai/gpt-4o-mini`` / ``openai/text-embedding-3-small``) and ``LETTA_API_KEY``.
    Otherwise: start (or reuse) the local stack — scripted LLM plus a real Letta server — and
    stop what was started on exit."""
    base_url = os.environ.get(BASE_URL_VAR)
    if base_url:
        yield LettaEnvironment(
            base_url=base_url,
            model=os.environ.get(MODEL_VAR, DEFAULT_MODEL),
            embedding=os.environ.get(EMBEDDING_VAR, DEFAULT_EMBEDDING),
            api_key=os.environ.get("LETTA_API_KEY"),
            stack=None,
        )
        return
    with LocalStack(LocalStackConfig.from_env()) as stack:
        yield LettaEnvironment(
            base_url=stack.letta_base_url,
            model=stack.model_handle,
            embedding=stack.embedding_handle,
            api_key=None,
            stack=stack,
        )
