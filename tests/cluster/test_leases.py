"""Leases against a real nats-server: one holder, renewal, release, expiry, loss, restart."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import pytest

from letta_actors.cluster import (
    ClusterConnection,
    LeaseLoss,
    Leases,
    LeaseSettings,
    LocalNatsServer,
    Membership,
    NodeNameTaken,
)

from ..helpers import wait_until
from .helpers import DEADLINE, LONG, SHORT, acquire_when_free, settings, signal_process

pytestmark = pytest.mark.anyio

BUCKET = "test_leases"


class Recorder:
    """Collects a node's lease losses and renewals; events to wait on them."""

    def __init__(self) -> None:
        self.losses: list[LeaseLoss] = []
        self.lost = anyio.Event()
        self.renewals: list[tuple[str, int]] = []
        self.renewed = anyio.Event()

    def on_lost(self, loss: LeaseLoss) -> None:
        self.losses.append(loss)
        self.lost.set()

    def on_renewed(self, name: str, revision: int) -> None:
        self.renewals.append((name, revision))
        self.renewed.set()


@asynccontextmanager
async def node_leases(
    server: LocalNatsServer,
    node: str,
    lease_settings: LeaseSettings = SHORT,
    recorder: Recorder | None = None,
) -> AsyncIterator[Leases]:
    """Leases of ``node`` on its own connection (not renewing: run ``leases.run`` for that)."""
    s = settings(server, node, lease_settings)
    async with AsyncExitStack() as stack:
        conn = await stack.enter_async_context(await ClusterConnection.open(s))
        rec = recorder or Recorder()
        leases = Leases(
            conn,
            bucket=BUCKET,
            holder=node,
            settings=s.leases,
            on_lost=rec.on_lost,
            on_renewed=rec.on_renewed,
        )
        await leases.open()
        yield leases


async def test_acquire_renew_release(nats_server: LocalNatsServer) -> None:
    rec = Recorder()
    async with (
        node_leases(nats_server, "a", recorder=rec) as a,
        node_leases(nats_server, "b") as b,
        anyio.create_task_group() as tg,
    ):
        assert await a.acquire("writer")
        assert a.holds("writer")
        first = a.revision("writer")
        assert await a.owners() == {"writer": "a"}
        await tg.start(a.run)
        with anyio.fail_after(DEADLINE):
            await rec.renewed.wait()
        renewed = a.revision("writer")
        assert first is not None and renewed is not None and renewed > first
        assert not await b.acquire("writer")
        await a.release("writer")
        assert not a.holds("writer")
        assert await b.acquire("writer")
        assert await b.owners() == {"writer": "b"}
        assert rec.losses == []  # a release is not a loss
        tg.cancel_scope.cancel()


async def test_two_contenders_one_owner_per_lease(nats_server: LocalNatsServer) -> None:
    names = [f"actor-{i}" for i in range(20)] + ["with space/and:colon"]
    won: dict[str, list[str]] = {name: [] for name in names}
    async with node_leases(nats_server, "a") as a, node_leases(nats_server, "b") as b:

        async def contend(leases: Leases, name: str) -> None:
            if await leases.acquire(name):
                won[name].append(leases.holder)

        async with anyio.create_task_group() as tg:
            for name in names:
                tg.start_soon(contend, a, name)
                tg.start_soon(contend, b, name)
        assert all(len(winners) == 1 for winners in won.values()), won
        owners = await a.owners()
        assert owners == {name: winners[0] for name, winners in won.items()}


async def test_a_lease_nobody_renews_expires_and_another_node_takes_it(
    nats_server: LocalNatsServer,
) -> None:
    rec = Recorder()
    async with (
        node_leases(nats_server, "a", recorder=rec) as a,
        node_leases(nats_server, "b") as b,
    ):
        assert await a.acquire("writer")
        async with anyio.create_task_group() as renewing:
            await renewing.start(a.run)
            renewing.cancel_scope.cancel()  # a's renew task dies; nothing is released
        with anyio.fail_after(DEADLINE):
            await acquire_when_free(b, "writer")
        # b got it only after the server's TTL: a counts it lost too, and says so.
        assert not a.holds("writer")
        assert [(x.name, x.reason) for x in rec.losses] == [("writer", "expired")]
        assert await b.owners() == {"writer": "b"}


async def test_a_renewal_that_finds_the_key_changed_drops_the_lease(
    nats_server: LocalNatsServer,
) -> None:
    rec = Recorder()
    async with node_leases(nats_server, "a", recorder=rec) as a, anyio.create_task_group() as tg:
        assert await a.acquire("writer")
        await a.kv.put("writer", b'{"holder": "intruder"}')  # e.g. an operator's overwrite
        await tg.start(a.run)
        with anyio.fail_after(DEADLINE):
            await rec.lost.wait()
        assert [(x.name, x.reason) for x in rec.losses] == [("writer", "taken")]
        assert not a.holds("writer")
        tg.cancel_scope.cancel()


async def test_releasing_a_lease_that_changed_meanwhile_leaves_the_new_value(
    nats_server: LocalNatsServer,
) -> None:
    async with node_leases(nats_server, "a") as a:
        assert await a.acquire("writer")
        await a.kv.put("writer", b'{"holder": "b"}')  # b's, as far as the bucket knows
        await a.release("writer")  # compare-and-set: does not delete b's lease
        assert not a.holds("writer")
        assert await a.owners() == {"writer": "b"}


async def test_the_same_node_name_twice_is_refused(nats_server: LocalNatsServer) -> None:
    async with AsyncExitStack() as stack:
        first_conn = await stack.enter_async_context(
            await ClusterConnection.open(settings(nats_server, "n1"))
        )
        second_conn = await stack.enter_async_context(
            await ClusterConnection.open(settings(nats_server, "n1"))
        )
        first = Membership(first_conn, settings(nats_server, "n1"))
        second = Membership(second_conn, settings(nats_server, "n1"))
        await first.join()
        with pytest.raises(NodeNameTaken, match="'n1' is already in use"):
            await second.join()
        assert await second.nodes() == ["n1"]
        await first.leave()
        await second.join()  # the name is free once its holder left
        assert second.alive


async def test_after_a_nats_server_restart_the_lease_is_renewed_or_cleanly_retaken(
    nats_server: LocalNatsServer,
) -> None:
    rec = Recorder()
    async with node_leases(nats_server, "a", LONG, rec) as a, anyio.create_task_group() as tg:
        assert await a.acquire("writer")
        await tg.start(a.run)
        await anyio.to_thread.run_sync(nats_server.restart)
        rec.renewed = anyio.Event()  # a renewal that began after the restart
        with anyio.fail_after(DEADLINE):
            await _first_of(rec.renewed.wait, rec.lost.wait)
            if not a.holds("writer"):  # lost while NATS was away: taken again, cleanly
                await acquire_when_free(a, "writer")
        assert a.conn.is_connected
        assert a.holds("writer")
        assert await a.owners() == {"writer": "a"}
        tg.cancel_scope.cancel()


async def _first_of(*waits: Callable[[], Awaitable[object]]) -> None:
    """Return when the first of ``waits`` returns."""
    async with anyio.create_task_group() as tg:

        async def run(wait: Callable[[], Awaitable[object]]) -> None:
            await wait()
            tg.cancel_scope.cancel()

        for wait in waits:
            tg.start_soon(run, wait)


async def test_a_holder_cut_off_from_nats_past_its_ttl_drops_the_lease_by_itself(
    nats_server: LocalNatsServer,
) -> None:
    rec = Recorder()
    async with node_leases(nats_server, "a", recorder=rec) as a, anyio.create_task_group() as tg:
        assert await a.acquire("writer")
        await tg.start(a.run)
        signal_process(nats_server.pid, signal.SIGSTOP)  # NATS answers nothing from now on
        try:
            with anyio.fail_after(DEADLINE):
                await rec.lost.wait()  # found out from its own clock, not from NATS
            assert [(x.name, x.reason) for x in rec.losses] == [("writer", "expired")]
            assert not a.holds("writer")
        finally:
            signal_process(nats_server.pid, signal.SIGCONT)
        with anyio.fail_after(DEADLINE):
            await acquire_when_free(a, "writer")  # once the server forgot the old one
        assert await a.owners() == {"writer": "a"}
        tg.cancel_scope.cancel()


async def test_state_tells_a_released_lease_from_an_expired_one(
    nats_server: LocalNatsServer,
) -> None:
    async with node_leases(nats_server, "a") as a, node_leases(nats_server, "b") as b:
        assert await b.state("never-held") == "free"
        assert await a.acquire("released") and await a.acquire("expiring")
        assert await b.state("released") == "held"
        await a.release("released")
        assert await b.state("released") == "released"
        # "expiring" is not renewed: the server forgets it after the TTL, leaving no marker.
        await wait_until(lambda: _is(b.state("expiring"), "free"), timeout=DEADLINE, what="expiry")


async def _is(state: Awaitable[str], expected: str) -> bool:
    return await state == expected
