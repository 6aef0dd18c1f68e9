"""The cluster series of one node, read when ``/metrics`` is scraped (docs/metrics.md).

The runtime keeps plain integers (:class:`~._stats.ClusterStats`), its owned actors, the lag of
their durable streams and its readiness; :func:`cluster_collector` returns a prometheus-client
collector that reads them at scrape time and nothing else: no Prometheus call is made when a
lease is renewed or a message crosses nodes. Register it next to the system's collector::

    metrics = SystemMetrics(system)
    metrics.registry.register(cluster_collector(runtime))

Every series carries the ``node`` label (the node's name), so the series of all nodes can be
summed or compared in PromQL whatever ``instance`` Prometheus gives each node. Counters start
at zero when the node starts (Prometheus reads a restart as a counter reset).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ..metrics import Family, Labels, MetricSpec, metric_spec
from ._stats import ClusterStats


class ClusterView(Protocol):
    """What the collector reads of a node (:class:`ClusterRuntime` has all of it)."""

    @property
    def node_name(self) -> str: ...

    @property
    def stats(self) -> ClusterStats: ...

    @property
    def lag(self) -> Mapping[str, int]: ...

    @property
    def ready(self) -> bool: ...

    @property
    def placed(self) -> Mapping[str, object]: ...

    def owned(self) -> Iterable[str]: ...


PLACED_ACTORS = metric_spec(
    "cluster_placed_actors",
    "gauge",
    ("node",),
    "Actors this node's team declares for placement (each should be owned by one node).",
)
OWNED_ACTORS = metric_spec(
    "cluster_owned_actors", "gauge", ("node",), "Placed actors this node owns (holds the lease of)."
)
ACTOR_OWNED = metric_spec(
    "cluster_actor_owned",
    "gauge",
    ("node", "actor"),
    "1 for each placed actor this node owns (the series is absent on the other nodes).",
)
STREAM_LAG = metric_spec(
    "cluster_stream_lag_messages",
    "gauge",
    ("node", "actor"),
    "Messages in the durable stream of an owned actor not acknowledged yet (sampled every "
    "lease renew interval).",
)
NODE_READY = metric_spec(
    "cluster_node_ready",
    "gauge",
    ("node",),
    "1 once the node has joined and done its first placement pass, 0 before (and after it left).",
)
#: The counters of :class:`ClusterStats`, each with its family.
COUNTERS: tuple[tuple[str, MetricSpec], ...] = tuple(
    (field, metric_spec(f"cluster_{field}_total", "counter", ("node",), help))
    for field, help in (
        ("lease_renewals", "Lease renewals that succeeded on this node."),
        (
            "lease_losses",
            "Leases this node lost without giving them up (expired while paused or cut off "
            "from NATS, or taken by another node).",
        ),
        ("acquisitions", "Actors acquired by this node (hand-overs and failovers included)."),
        (
            "failovers",
            "Actors acquired by this node whose last owner died or was cut off (not handed over).",
        ),
        (
            "handovers",
            "Actors this node handed over gracefully (drained, then released): to a node that "
            "joined, or when leaving.",
        ),
        (
            "redeliveries",
            "Durable messages delivered to this node again (a node before it did not "
            "acknowledge them).",
        ),
        (
            "remote_sends",
            "Envelopes (tells and asks) this node sent to actors on other nodes successfully.",
        ),
        (
            "remote_send_failures",
            "Sends to another node that failed (NATS away, no owner in time, payload too large).",
        ),
        ("remote_received", "Envelopes received from other nodes for actors owned here."),
    )
)
#: Every family of the cluster collector (documented in ``docs/metrics.md``).
CLUSTER_METRICS: tuple[MetricSpec, ...] = (
    PLACED_ACTORS,
    OWNED_ACTORS,
    ACTOR_OWNED,
    *(spec for _, spec in COUNTERS),
    STREAM_LAG,
    NODE_READY,
)


class _ClusterCollector(Collector):
    """Reads a :class:`ClusterView` on each ``collect()`` (see the module docstring)."""

    def __init__(self, runtime: ClusterView) -> None:
        self._runtime = runtime

    def describe(self) -> Iterable[Metric]:
        """The families without samples, so a registry refuses a clash at ``register``."""
        return [Metric(spec.family, spec.help, spec.kind) for spec in CLUSTER_METRICS]

    def collect(self) -> list[Family]:
        runtime = self._runtime
        node: Labels = (("node", runtime.node_name),)
        owned = sorted(runtime.owned())
        lag = dict(runtime.lag)  # one atomic copy: the runtime updates it in place
        stats = runtime.stats
        return [
            _family(PLACED_ACTORS, [(node, len(runtime.placed))]),
            _family(OWNED_ACTORS, [(node, len(owned))]),
            _family(ACTOR_OWNED, [((*node, ("actor", actor)), 1) for actor in owned]),
            *(_family(spec, [(node, getattr(stats, field))]) for field, spec in COUNTERS),
            _family(STREAM_LAG, [((*node, ("actor", actor)), lag[actor]) for actor in sorted(lag)]),
            _family(NODE_READY, [(node, int(runtime.ready))]),
        ]


def _family(spec: MetricSpec, rows: list[tuple[Labels, float]]) -> Family:
    family = Family(spec)
    family.set_rows(rows)
    return family


def cluster_collector(runtime: ClusterView) -> Collector:
    """A collector of the node's cluster series, read from ``runtime`` at each scrape.

    Register it in the registry that serves the node's ``/metrics`` (``registry.register``);
    registering it twice in one registry raises ``ValueError`` (duplicated timeseries). Reading
    a runtime that has not started or has left is fine: it exports what the runtime says
    (``node_ready`` 0, nothing owned). Collect it in the runtime's event loop, as the
    ``SystemMetrics`` endpoints and the daemon do, not from another thread (prometheus-client's
    threaded server): ``owned()`` checks the leases' expiry and may start a lost actor's stop.
    """
    return _ClusterCollector(runtime)
