"""Prometheus metrics for an :class:`~letta_actors.ActorSystem` (see ``docs/metrics.md``).

::

    from letta_actors.metrics import SystemMetrics

    async with ActorSystem() as system:
        metrics = SystemMetrics(system)            # its own CollectorRegistry
        async with metrics.serving(port=9464) as server:
            ...                                    # scrape server.url

The runtime keeps plain counters; the collector reads them only when scraped. The core never
imports this package.
"""

from ._catalog import CATALOG, OTHER, PREFIX, MetricSpec
from ._collector import LabelGuard, SystemCollector, default_group_of, server_label
from ._exposition import (
    ASGIApp,
    MetricsApp,
    MetricsResponse,
    MetricsServer,
    make_asgi_app,
    render,
    respond,
    serve_http,
)
from ._system import SystemMetrics

__all__ = [
    "CATALOG",
    "OTHER",
    "PREFIX",
    "ASGIApp",
    "LabelGuard",
    "MetricSpec",
    "MetricsApp",
    "MetricsResponse",
    "MetricsServer",
    "SystemCollector",
    "SystemMetrics",
    "default_group_of",
    "make_asgi_app",
    "render",
    "respond",
    "serve_http",
    "server_label",
]
