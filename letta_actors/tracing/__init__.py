"""Traces with OpenTelemetry: a span per message handled, Letta request, pattern run and step,
and supervisor restart; one trace per workflow run, exported over OTLP (see ``docs/tracing.md``).

Needs the ``otel`` extra (``pip install 'letta-actors[otel]'``), except
:class:`TraceContextFilter`, which does nothing without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._logs import TraceContextFilter

if TYPE_CHECKING:
    from ._install import SystemTracing, install_tracing

__all__ = ["SystemTracing", "TraceContextFilter", "available", "install_tracing"]

INSTALL_HINT = "tracing needs the otel extra: pip install 'letta-actors[otel]'"


def available() -> bool:
    """True when the OpenTelemetry SDK and OTLP exporter (the ``otel`` extra) are installed."""
    import importlib.util

    try:
        return all(
            importlib.util.find_spec(name) is not None
            for name in ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
        )
    except ModuleNotFoundError:
        return False


def __getattr__(name: str) -> Any:
    if name in ("SystemTracing", "install_tracing"):
        try:
            from . import _install
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc
        return getattr(_install, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
