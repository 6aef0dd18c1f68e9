"""The daemon tests' ``start_daemon`` fixture, for the lone daemon on the embedded store."""

from ..daemon.conftest import start_daemon

__all__ = ["start_daemon"]
