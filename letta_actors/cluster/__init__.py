"""Cluster mode groundwork: several daemons over NATS JetStream (docs/cluster.md).

Needs the ``cluster`` extra (``pip install 'letta-actors[cluster]'``) and asyncio (nats-py is
asyncio-only). What exists: settings with their refusals, the connection (bounded first
connect, payload check), leases with exactly one holder, node membership with unique names,
placement by rendezvous hashing and hand-over, and :class:`ClusterRuntime`: an actor system's
placed actors on exactly one node each, reached from any node (remote tells and asks, durable
mailboxes on a JetStream stream), handed over and failed over. See docs/cluster.md.
"""

from ._connection import ClusterConnection, require_asyncio
from ._errors import (
    ClusterConfigError,
    ClusterError,
    ClusterUnavailable,
    ClusterUnreachable,
    NodeNameTaken,
    PayloadTooLarge,
    RemoteError,
)
from ._leases import LeaseLoss, Leases, lease_clock
from ._local_server import LocalNatsServer, nats_server_binary
from ._mailbox import ClusterMailbox, StreamMailbox
from ._membership import Membership
from ._metrics import CLUSTER_METRICS, ClusterView, cluster_collector
from ._node import ClusterNode
from ._placement import owner_of, place
from ._runtime import ClusterRuntime, Placed
from ._settings import ClusterSettings, LeaseSettings, TLSSettings
from ._stats import ClusterStats
from ._transport import RemoteRecipient, Transport
from ._wire import Subjects, Wire

__all__ = [
    "CLUSTER_METRICS",
    "ClusterConfigError",
    "ClusterConnection",
    "ClusterError",
    "ClusterMailbox",
    "ClusterNode",
    "ClusterRuntime",
    "ClusterSettings",
    "ClusterStats",
    "ClusterUnavailable",
    "ClusterUnreachable",
    "ClusterView",
    "LeaseLoss",
    "LeaseSettings",
    "Leases",
    "LocalNatsServer",
    "Membership",
    "NodeNameTaken",
    "PayloadTooLarge",
    "Placed",
    "RemoteError",
    "RemoteRecipient",
    "StreamMailbox",
    "Subjects",
    "TLSSettings",
    "Transport",
    "Wire",
    "cluster_collector",
    "lease_clock",
    "nats_server_binary",
    "owner_of",
    "place",
    "require_asyncio",
]
