"""Configuration models: the agent spec, per-agent options and per-server policies."""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The tag put on every agent this package creates; find-or-create only looks at agents with it.
OWNER_TAG = "letta-actors"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetryPolicy(_Model):
    """How a failed request to Letta is retried.

    Retried: connection errors, timeouts, HTTP 408, 429 and 5xx. Not retried: other 4xx (the
    request is wrong; retrying cannot help). Attempt ``n`` (1-based) that failed waits::

        min(max_delay, base_delay * factor ** (n - 1)) * uniform(1 - jitter, 1 + jitter)

    or, for a 429 carrying ``Retry-After``, that many seconds (capped at ``max_retry_after``),
    whichever is longer. A request gives up after ``max_attempts`` attempts or when its total
    time would exceed ``deadline`` seconds.
    """

    max_attempts: int = Field(default=8, ge=1, le=1000)
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=30.0, ge=0)
    factor: float = Field(default=2.0, ge=1)
    jitter: float = Field(default=0.25, ge=0, le=1)
    max_retry_after: float = Field(default=60.0, ge=0)
    deadline: float = Field(default=600.0, gt=0)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.base_delay * self.factor ** max(0, attempt - 1))
        if self.jitter:
            base *= random.uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after is not None:
            base = max(base, min(retry_after, self.max_retry_after))
        return max(0.0, base)


class BreakerConfig(_Model):
    """The circuit breaker of one Letta server.

    ``closed``: requests flow; ``failure_threshold`` consecutive failures (connection errors,
    timeouts, 5xx) open it. ``open``: no request is sent for ``reset_timeout`` seconds. Then
    ``half_open``: up to ``half_open_max_calls`` probe requests at a time; a success closes it,
    a failure opens it again. 429 and other 4xx answers prove the server alive: they count as
    successes for the breaker.
    """

    failure_threshold: int = Field(default=5, ge=1)
    reset_timeout: float = Field(default=15.0, gt=0)
    half_open_max_calls: int = Field(default=1, ge=1)


class ConnectionConfig(_Model):
    """Settings of a :class:`~letta_actors.letta.LettaConnection` (one Letta server).

    - ``max_in_flight``: requests in flight to this server at once, all agents together.
    - ``requests_per_minute``: optional rate limit (token bucket holding ``burst`` tokens).
    - ``request_timeout``: seconds for one HTTP request (a multi-step agent turn can be long).
    - ``connect_timeout``: seconds to establish a connection.
    """

    base_url: str = "http://127.0.0.1:8283"
    api_key: str | None = None
    max_in_flight: int = Field(default=8, ge=1)
    requests_per_minute: float | None = Field(default=None, gt=0)
    burst: int = Field(default=1, ge=1)
    request_timeout: float = Field(default=300.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerConfig = BreakerConfig()


class MemoryBlock(_Model):
    """A core-memory block created with the agent."""

    label: str = Field(min_length=1)
    value: str = ""
    description: str | None = None
    limit: int | None = Field(default=None, gt=0)


class AgentSpec(_Model):
    """Which Letta agent an actor wraps: attach by ``agent_id``, or find-or-create by ``name``.

    Find-or-create lists the agents named ``name`` that carry ``owner_tag`` and uses the oldest;
    only when there is none does it create one (with the tag), so restarts never duplicate.
    The other fields are used only when creating: ``system`` prompt, ``persona`` / ``human``
    memory blocks plus ``memory_blocks``, ``model`` and ``embedding`` handles, ``tags``,
    server-side ``tools`` (by name), shared ``block_ids``, ``description``,
    ``include_base_tools``.
    """

    agent_id: str | None = None
    name: str | None = Field(default=None, min_length=1)
    system: str | None = None
    persona: str | None = None
    human: str | None = None
    memory_blocks: tuple[MemoryBlock, ...] = ()
    model: str | None = None
    embedding: str | None = None
    tags: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    block_ids: tuple[str, ...] = ()
    description: str | None = None
    include_base_tools: bool | None = None
    owner_tag: str = OWNER_TAG

    @model_validator(mode="after")
    def _identified(self) -> AgentSpec:
        if self.agent_id is None and self.name is None:
            raise ValueError("an AgentSpec needs an agent_id or a name")
        return self


class AgentOptions(_Model):
    """How a :class:`~letta_actors.letta.LettaAgent` behaves.

    - ``max_steps``: Letta's own step limit per request (server default when None).
    - ``max_tool_rounds``: client-side tool rounds (approval answers) per message; past it the
      agent gets error tool returns ("tool call limit reached") for ``grace_rounds`` more
      rounds, then :class:`~letta_actors.letta.ToolLoopExceeded` is raised.
    - ``max_ask_depth``: longest chain of nested agent-to-agent asks ``ask_agent`` may create
      (the asker chain of the current message plus one); deeper asks become tool errors.
    - ``peer_ask_timeout``: seconds ``ask_agent`` waits for a peer (system default when None).
    - ``tool_timeout``: seconds a user client tool may run.
    - ``bus_tools``: offer ``ask_agent`` / ``tell_agent`` (when the actor has linked peers).
    - ``publish_topics``: topics the ``publish`` tool may use (the tool is omitted when empty).
    - ``lookup_limit``: recent messages searched for a message's ``otid`` after an ambiguous
      failure; ``recovery_wait``: seconds to wait for a run still active on a reachable server
      before deciding the message was not delivered.
    - ``cancel_timeout``: seconds for cancelling the Letta run of an abandoned ask.
    """

    max_steps: int | None = Field(default=None, ge=1)
    max_tool_rounds: int = Field(default=10, ge=0)
    grace_rounds: int = Field(default=2, ge=0)
    max_ask_depth: int = Field(default=3, ge=0)
    peer_ask_timeout: float | None = Field(default=None, gt=0)
    tool_timeout: float = Field(default=120.0, gt=0)
    bus_tools: bool = True
    publish_topics: tuple[str, ...] = ()
    lookup_limit: int = Field(default=50, ge=1, le=1000)
    recovery_wait: float = Field(default=60.0, ge=0)
    cancel_timeout: float = Field(default=5.0, gt=0)
