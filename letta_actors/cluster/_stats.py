"""What one node of the cluster counts: plain integers, bumped where things happen.

The runtime never calls Prometheus: :mod:`letta_actors.cluster` exports these (with the
leases' and the node's state) when ``/metrics`` is scraped. Counters only grow; they are
per node and start at zero when the node starts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ClusterStats:
    """Counters of one node (see the module docstring)."""

    #: Lease renewals that succeeded (compare-and-set on the revision).
    lease_renewals: int = 0
    #: Leases this node lost without giving them up: expired locally (paused, NATS away too
    #: long) or taken (the key changed).
    lease_losses: int = 0
    #: Actors acquired here (each acquisition, hand-overs and failovers included).
    acquisitions: int = 0
    #: Acquisitions of an actor whose last owner died or was cut off (not a graceful hand-over).
    failovers: int = 0
    #: Actors handed over gracefully to another node (drained, then released).
    handovers: int = 0
    #: Durable messages delivered here again (delivered before to a node that did not
    #: acknowledge them: a crash, a lost lease).
    redeliveries: int = 0
    #: Envelopes sent to an actor on another node (tells and asks), and those that failed
    #: (NATS away, no owner within the bound, payload too large).
    remote_sends: int = 0
    remote_send_failures: int = 0
    #: Envelopes received from other nodes for actors owned here.
    remote_received: int = 0
