"""The team file's schema: pydantic models for every section of a ``team.toml``.

A file declares one team: the Letta server, the agents (Letta agents or Python actors), their
links and topics, the supervision tree, the workflows, and the HTTP API and metrics listeners.
Secrets are never written in the file: it names the environment variables that hold them.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from .._net import is_loopback
from ..actors import MailboxConfig
from ..durable import StoreSection
from ..letta import AgentOptions, AgentSpec, ConnectionConfig
from ..supervisors import Backoff, Intensity, RestartType, Strategy
from ..tracing import INSTALL_HINT
from ..tracing import available as tracing_available
from .workflows import Workflow

if TYPE_CHECKING:
    from ..cluster import ClusterSettings

#: Actor, supervisor and workflow names: what a URL path segment and a log field can hold.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
EnvVar = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TeamSection(_Section):
    """``[team]``: the team's name and system-wide settings.

    ``python_path``: folders (relative to the file) added to ``sys.path`` so ``factory`` import
    paths of Python agents resolve; ``enforce_links``: agents may only message linked peers;
    ``ask_timeout``: default seconds for asks; ``shutdown_timeout``: seconds to drain and stop
    after a stop signal (in-flight requests first, then mailboxes, in reverse start order).
    """

    name: Name = "team"
    python_path: tuple[str, ...] = ()
    enforce_links: bool = False
    ask_timeout: float = Field(default=60.0, gt=0)
    shutdown_timeout: float = Field(default=30.0, gt=0)


def _with_fields_of(
    model: type[BaseModel], base: type[_Section], leave_out: frozenset[str]
) -> type[_Section]:
    """``base`` with the fields of ``model`` (but ``leave_out`` and ``base``'s own), declared
    once, in ``model`` (type, default and bounds): a field added there is settable in the file
    at once. Type checkers see ``base``: read those fields through the model they build."""
    fields: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in model.model_fields.items()
        if name not in leave_out and name not in base.model_fields
    }
    return create_model(f"_{model.__name__}Fields", __base__=base, __module__=__name__, **fields)


if TYPE_CHECKING:
    _ConnectionFields = _Section
else:  # the API key is never in the file: ``api_key_env`` names its variable
    _ConnectionFields = _with_fields_of(ConnectionConfig, _Section, frozenset({"api_key"}))


class LettaSection(_ConnectionFields):
    """``[letta]``: the Letta server. Its fields are :class:`ConnectionConfig`'s (``base_url``,
    ``max_in_flight``, ``requests_per_minute``, ``request_timeout``, ``retry``, ``breaker``...)
    but the API key, read from the variable ``api_key_env`` (if set); ``model`` and
    ``embedding`` are the agents' defaults."""

    base_url: str = "http://127.0.0.1:8283"  # checked: an http(s) URL
    api_key_env: EnvVar | None = "LETTA_API_KEY"
    model: str | None = None
    embedding: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str) -> str:
        return _http_url(url).rstrip("/")

    def connection(self, env: Mapping[str, str]) -> ConnectionConfig:
        """The :class:`ConnectionConfig` of the server, with the API key from ``env``."""
        fields = {n: getattr(self, n) for n in ConnectionConfig.model_fields if n != "api_key"}
        key = env.get(self.api_key_env) if self.api_key_env else None
        return ConnectionConfig(**fields, api_key=key)


def _http_url(url: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError("must be an http:// or https:// URL")
    return url


class _AgentBase(_Section):
    """Settings every agent has: its mailbox, its place in the supervision tree, its topics,
    its description."""

    description: str | None = None
    mailbox: MailboxConfig = MailboxConfig()
    supervisor: Name = "root"
    restart: RestartType = "permanent"
    shutdown: float | None = Field(default=None, gt=0)
    max_attempts: int = Field(default=1, ge=1, le=100)
    subscribe: tuple[str, ...] = ()
    #: Whether a tell to it is stored before it returns (see :meth:`TeamConfig.durable`).
    durable: bool | None = None


if TYPE_CHECKING:  # read the AgentSpec fields with ``spec()``
    _LettaFields = _AgentBase
else:  # the Letta name is ``letta_name`` (its default depends on the team); the owner tag is
    # the package's
    _LettaFields = _with_fields_of(AgentSpec, _AgentBase, frozenset({"name", "owner_tag"}))


class LettaAgentConfig(_LettaFields):
    """``kind = "letta"``: a Letta agent, found or created by ``letta_name`` (default
    ``<team>-<agent>``) or attached by ``agent_id``. Its other fields are :class:`AgentSpec`'s
    (``persona``, ``system``, ``human``, ``memory_blocks``, ``model``, ``embedding``, ``tags``,
    ``tools``...): ``model``/``embedding`` default to ``[letta]``'s, the team's name is added
    to ``tags``. ``options`` are :class:`AgentOptions`. ``role = "orchestrator"`` makes it the
    hub of an ``orchestrator`` workflow (it gets the delegation tool); other agents get the
    handoff and vote tools of those workflows."""

    kind: Literal["letta"] = "letta"
    role: Literal["agent", "orchestrator"] = "agent"
    letta_name: str | None = Field(default=None, min_length=1)
    options: AgentOptions = AgentOptions()

    def spec(self, team: str, name: str, letta: LettaSection) -> AgentSpec:
        """The :class:`AgentSpec` of this agent, declared as ``name`` in ``team`` under
        ``letta``."""
        spec = {n: getattr(self, n) for n in AgentSpec.model_fields if n in type(self).model_fields}
        return AgentSpec(
            **{
                **spec,
                "name": self.letta_name or f"{team}-{name}",
                "model": spec["model"] or letta.model,
                "embedding": spec["embedding"] or letta.embedding,
                "tags": (*spec["tags"], team),
            }
        )


class PythonAgentConfig(_AgentBase):
    """``kind = "python"``: an actor made by ``factory`` (``"module:callable"``, an
    :class:`~letta_actors.Actor` subclass or a function returning one) called with ``args``."""

    kind: Literal["python"]
    factory: str
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("factory")
    @classmethod
    def _import_path(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", value):
            raise ValueError("must be an import path like 'package.module:Callable'")
        return value


AgentConfig = Annotated[LettaAgentConfig | PythonAgentConfig, Field(discriminator="kind")]


class SupervisorConfig(_Section):
    """A supervisor of the tree: ``[supervision]`` is the root, ``[supervisors.NAME]`` others
    (under ``parent``, default the root). Agents name theirs with ``supervisor``."""

    strategy: Strategy = "one_for_one"
    intensity: Intensity = Intensity()
    backoff: Backoff = Backoff()
    parent: Name = "root"


class Link(_Section):
    """A bus link: ``from`` may message ``to`` (and back, unless ``both_ways = false``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    source: Name = Field(alias="from")
    target: Name = Field(alias="to")
    both_ways: bool = True


class ApiSection(_Section):
    """``[api]``: the HTTP API listener (loopback by default).

    ``token_env`` names the variable holding the bearer token; a token is required whenever
    ``host`` (or the metrics listener's) is not a loopback address, and enforced whenever it is
    set. ``max_body_bytes`` bounds request bodies (413 beyond) and ``body_timeout`` the time to
    send one (408 beyond); ``max_head_bytes`` bounds the request line and headers together
    (431 beyond); ``idle_timeout`` closes a connection without a request in progress (idle
    keep-alive, or headers still arriving); ``max_concurrent_requests`` caps requests in
    progress (503 beyond); ``max_ask_timeout`` bounds the timeout a client asks for;
    ``retry_after`` is the ``Retry-After`` (seconds) sent with 503.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    token_env: EnvVar = "LETTA_ACTORS_API_TOKEN"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    body_timeout: float = Field(default=30.0, gt=0)
    max_head_bytes: int = Field(default=16_384, ge=1024)
    idle_timeout: float = Field(default=10.0, gt=0)
    max_concurrent_requests: int = Field(default=1000, ge=1)
    max_ask_timeout: float = Field(default=600.0, gt=0)
    retry_after: int = Field(default=1, ge=1)
    max_runs_kept: int = Field(default=1000, ge=1)

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


class MetricsSection(_Section):
    """``[metrics]``: Prometheus metrics, on the API at ``/metrics`` and, with ``port`` set,
    also on a listener of their own (``host``, loopback by default; beyond loopback only with
    the API's bearer token, which it then requires, with the API's head and idle limits)."""

    enabled: bool = True
    labels: Literal["actor", "group"] = "actor"
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)


class LoggingSection(_Section):
    """``[logging]``: ``level`` and ``format`` (``text`` or ``json``); ``summary_interval``:
    seconds between the INFO lines that sum up the API's asks and tells (each one is a DEBUG
    line)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    summary_interval: float = Field(default=60.0, gt=0)


class TracingSection(_Section):
    """``[tracing]``: OpenTelemetry traces, exported over OTLP (HTTP/protobuf); needs the
    ``otel`` extra. ``endpoint``: the full URL (``http://collector:4318/v1/traces``); without
    it the standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``
    apply (default ``http://localhost:4318/v1/traces``). ``service_name``: default
    ``OTEL_SERVICE_NAME``, else the team's name. See ``docs/tracing.md``."""

    enabled: bool = False
    endpoint: str | None = None
    service_name: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, url: str | None) -> str | None:
        return None if url is None else _http_url(url)

    @model_validator(mode="after")
    def _installed(self) -> TracingSection:
        if self.enabled and not tracing_available():
            raise ValueError(INSTALL_HINT)
        return self


#: The environment variable naming this node when ``--node`` does not.
NODE_ENV = "LETTA_ACTORS_NODE"
CLUSTER_HINT = "cluster mode needs the cluster extra: pip install 'letta-actors[cluster]'"


def cluster_module() -> ModuleType:
    """:mod:`letta_actors.cluster`, imported now; :class:`ValueError` saying how to install it
    when the ``cluster`` extra (nats-py) is missing."""
    try:
        return importlib.import_module("..cluster", __package__)
    except ImportError as exc:
        raise ValueError(f"{CLUSTER_HINT} ({exc})") from None


class ClusterSection(_Section):
    """``[cluster]``: the team runs as one node of a cluster over NATS JetStream
    (``docs/cluster.md``). Its fields are :class:`~letta_actors.cluster.ClusterSettings`'
    (``nats_url``, credentials by variable name, ``leases``, ``tls``...), checked by it when the
    file is loaded (which needs the ``cluster`` extra). ``node`` may be left out: the file is
    the same on every node, and :meth:`settings` takes the name from ``--node`` or
    ``$LETTA_ACTORS_NODE`` first."""

    model_config = ConfigDict(frozen=True, extra="allow")

    node: str | None = None

    def fields(self) -> dict[str, Any]:
        """The section's fields as written (``node`` only if given)."""
        given = {} if self.node is None else {"node": self.node}
        return {**(self.model_extra or {}), **given}

    def settings(
        self, node: str | None = None, env: Mapping[str, str] | None = None
    ) -> ClusterSettings:
        """The settings of the node named ``node`` (``letta-actors run --node``), else
        ``$LETTA_ACTORS_NODE`` in ``env`` (default ``os.environ``), else ``node`` in the file.
        Raises :class:`~letta_actors.cluster.ClusterConfigError` when no name is given anywhere
        or the name is invalid."""
        cluster = cluster_module()
        env = os.environ if env is None else env
        name = node or env.get(NODE_ENV) or self.node
        if not name:
            raise cluster.ClusterConfigError(
                f"cluster mode needs this node's name: pass --node NAME to 'letta-actors run', "
                f'or set {NODE_ENV} (or write node = "NAME" in [cluster])'
            )
        try:
            settings: ClusterSettings = cluster.ClusterSettings.model_validate(
                {**self.fields(), "node": name}
            )
        except ValidationError as exc:
            problems = "; ".join(e["msg"] for e in exc.errors())
            raise cluster.ClusterConfigError(f"node name {name!r}: {problems}") from None
        return settings


def _checked_cluster(section: ClusterSection) -> ClusterSection:
    """Validate the section as :class:`ClusterSettings` (errors at ``cluster.<field>``), with a
    stand-in node name when the file leaves it out."""
    fields = {"node": "node", **section.fields()}
    cluster_module().ClusterSettings.model_validate(fields)
    return section


class TeamConfig(_Section):
    """A whole team file. Agents, supervisors and workflows are tables keyed by name, in the
    file's order (agents start in that order and stop in reverse)."""

    team: TeamSection = TeamSection()
    letta: LettaSection = LettaSection()
    agents: dict[Name, AgentConfig] = Field(min_length=1)
    links: tuple[Link, ...] = ()
    topics: dict[str, tuple[Name, ...]] = Field(default_factory=dict)
    supervision: SupervisorConfig = SupervisorConfig()
    supervisors: dict[Name, SupervisorConfig] = Field(default_factory=dict)
    workflows: dict[Name, Workflow] = Field(default_factory=dict)
    api: ApiSection = ApiSection()
    metrics: MetricsSection = MetricsSection()
    logging: LoggingSection = LoggingSection()
    tracing: TracingSection = TracingSection()
    store: StoreSection | None = None  # durable mailboxes and runs: letta_actors.durable
    cluster: Annotated[ClusterSection, AfterValidator(_checked_cluster)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_kind(cls, data: Any) -> Any:
        """An agent without ``kind`` is a Letta agent."""
        if isinstance(data, dict) and isinstance(data.get("agents"), dict):
            agents = {
                name: {"kind": "letta", **agent} if isinstance(agent, dict) else agent
                for name, agent in data["agents"].items()
            }
            data = {**data, "agents": agents}
        return data

    @model_validator(mode="after")
    def _durability(self) -> TeamConfig:
        """``[store]`` and ``[cluster]`` exclude each other; outside cluster mode an agent's
        ``durable`` must say what ``[store]`` does."""
        if self.cluster is not None and self.store is not None:
            raise ValueError(
                "[store] and [cluster] do not go together: a cluster keeps durable mailboxes "
                "in JetStream, shared by every node, not in one node's file (remove [store]; "
                "choose durable agents with durable = true / false)"
            )
        if self.cluster is None:
            wrong = [
                f"agents.{name}.durable = {str(agent.durable).lower()}"
                for name, agent in self.agents.items()
                if agent.durable is not None and agent.durable != self.durable(name)
            ]
            if wrong:
                raise ValueError(
                    f"{', '.join(wrong)}: without [cluster], [store] decides which agents are "
                    "durable (store.actors, default all): list them there, or drop durable"
                )
        return self

    def durable(self, name: str) -> bool:
        """Whether a tell to agent ``name`` is stored before it returns. In cluster mode: its
        ``durable``, by default true for Letta agents and false for Python ones (a JetStream
        stream). Otherwise: whether ``[store]`` covers it (its ``actors``, default all)."""
        agent = self.agents[name]
        if self.cluster is not None:
            return agent.durable if agent.durable is not None else agent.kind == "letta"
        store = self.store
        return store is not None and (store.actors is None or name in store.actors)

    def letta_agents(self) -> dict[str, LettaAgentConfig]:
        return {n: a for n, a in self.agents.items() if isinstance(a, LettaAgentConfig)}

    def letta_spec(self, name: str) -> AgentSpec:
        """The :class:`AgentSpec` of the Letta agent declared as ``name``."""
        return self.letta_agents()[name].spec(self.team.name, name, self.letta)
