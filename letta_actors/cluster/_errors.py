"""Typed errors of cluster mode. Every one derives from :class:`ClusterError`."""

from __future__ import annotations

from letta_actors.errors import ActorError


class ClusterError(ActorError):
    """Base class of the errors cluster mode raises."""


class ClusterConfigError(ClusterError, ValueError):
    """Cluster mode refuses to start as configured (wrong event loop, a missing variable...)."""


class ClusterUnreachable(ClusterError, ConnectionError):
    """The first connection to NATS did not succeed within the connect timeout; ``cause``:
    the first distinct errors seen while trying (or None)."""

    def __init__(self, url: str, timeout: float, cause: str | None) -> None:
        why = f": {cause}" if cause else ""
        super().__init__(f"NATS at {url} is unreachable (no connection within {timeout:g} s){why}")
        self.url = url
        self.timeout = timeout
        self.cause = cause


class NodeNameTaken(ClusterError):
    """A live node already holds this node name (its membership key has not expired)."""

    def __init__(self, node: str) -> None:
        super().__init__(
            f"node name {node!r} is already in use by a live node: "
            "give each node a unique name, or wait for the old one's lease to expire"
        )
        self.node = node


class PayloadTooLarge(ClusterError, ValueError):
    """A message is larger than the NATS server's ``max_payload``; it was not sent."""

    def __init__(self, size: int, max_payload: int) -> None:
        super().__init__(
            f"message of {size} bytes is larger than the NATS server's max_payload "
            f"({max_payload} bytes); it was not sent"
        )
        self.size = size
        self.max_payload = max_payload


class ClusterUnavailable(ClusterError, ConnectionError):
    """NATS did not answer a cluster operation (connection lost, reconnecting, timed out)."""

    def __init__(self, operation: str, cause: BaseException) -> None:
        super().__init__(f"NATS did not answer {operation}: {type(cause).__name__}: {cause}")
        self.operation = operation


class RemoteError(ClusterError):
    """An actor on another node failed to handle an ask: ``kind`` is the exception's class name
    there, ``message`` its text (the traceback stays in that node's log)."""

    def __init__(self, actor: str, kind: str, message: str) -> None:
        super().__init__(f"{actor} failed on another node: {kind}: {message}")
        self.actor = actor
        self.kind = kind
        self.message = message
