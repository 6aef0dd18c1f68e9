"""Prometheus metrics for an :class:`~letta_actors.ActorSystem` (see ``docs/metrics.md``).

::

    from letta_actors.metrics import SystemMetrics

    async with ActorSystem() as system:
        metrics = SystemMetrics(system)            # its own CollectorRegistry
        async with metrics.serving(port=9464) as server:
            ...                                    # scrape server.url

The runtime keeps plain counters; the collector reads them only when scraped. The core never
imports this package. Integrations export their own per-actor counters through the extension
point (:class:`MetricsExporter`, see "Adding metrics from an integration" in ``docs/metrics.md``).
"""

from ._catalog import CATALOG, OTHER, PREFIX, SUBJECT, Kind, MetricSpec, metric_spec
from ._collector import LabelGuard, SystemCollector, default_group_of, server_label
from ._exposition import (
    MetricsApp,
    MetricsResponse,
    MetricsServer,
    make_asgi_app,
    make_path_app,
    render,
    respond,
    serve_http,
)
from ._extension import ExportedStats, ExtensionReading, MetricsExporter
from ._family import LE, Family, Labels
from ._http import ASGIApp, HttpLimits, listen, serve_asgi
from ._system import SystemMetrics

__all__ = [
    "CATALOG",
    "LE",
    "OTHER",
    "PREFIX",
    "SUBJECT",
    "ASGIApp",
    "ExportedStats",
    "ExtensionReading",
    "Family",
    "HttpLimits",
    "Kind",
    "LabelGuard",
    "Labels",
    "MetricSpec",
    "MetricsApp",
    "MetricsExporter",
    "MetricsResponse",
    "MetricsServer",
    "SystemCollector",
    "SystemMetrics",
    "default_group_of",
    "listen",
    "make_asgi_app",
    "make_path_app",
    "metric_spec",
    "render",
    "respond",
    "serve_asgi",
    "serve_http",
    "server_label",
]
