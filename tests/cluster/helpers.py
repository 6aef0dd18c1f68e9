"""Shared pieces of the cluster tests: settings for a test node, waiting for a lease."""

from __future__ import annotations

import math
import os
import signal

from letta_actors.cluster import ClusterSettings, Leases, LeaseSettings, LocalNatsServer

from ..helpers import wait_until

#: Short enough that an expiry is waited for in a couple of seconds, long enough that a
#: loaded 2-core machine renews in time (renewals every 0.3 s, lost after 1.8 s).
SHORT = LeaseSettings(ttl=2.0, renew_interval=0.3)
#: For tests that must keep a lease across a server restart.
LONG = LeaseSettings(ttl=10.0, renew_interval=0.3)
#: Upper bound for anything a test waits for (a hang becomes a failure, not a timing check).
DEADLINE = 60.0


def settings(
    server: LocalNatsServer, node: str, leases: LeaseSettings = SHORT, **extra: object
) -> ClusterSettings:
    """Settings for node ``node`` on the test's server."""
    return ClusterSettings.model_validate(
        {
            "nats_url": server.url,
            "node": node,
            "leases": leases,
            "reconnect_wait": 0.1,
            "connect_timeout": 10.0,
            **extra,
        }
    )


async def acquire_when_free(leases: Leases, name: str) -> None:
    """Poll ``acquire`` until it succeeds (a TTL expiry leaves no event to wait on), bounded
    by the caller's deadline."""
    await wait_until(lambda: leases.acquire(name), timeout=math.inf, what=f"lease {name!r}")


def signal_process(pid: int, signum: signal.Signals) -> None:
    """SIGSTOP / SIGCONT / SIGKILL a process a test started."""
    os.kill(pid, signum)
