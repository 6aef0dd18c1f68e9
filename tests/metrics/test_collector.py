"""What the collector exports: exact values after known traffic, labels, names, isolation."""

from __future__ import annotations

import re

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from letta_actors import ActorSystem, AskTimeout, MailboxConfig
from letta_actors.actors._stats import BUCKETS
from letta_actors.letta import LETTA_METRICS, LettaStats
from letta_actors.metrics import CATALOG, OTHER, PREFIX, SystemMetrics, server_label

from .helpers import (
    Hold,
    Other,
    Samples,
    Worker,
    is_cumulative,
    parse,
    parse_om,
    series,
    value,
    wait_for,
    wait_restarted,
)

pytestmark = pytest.mark.anyio

P = PREFIX


async def known_traffic(system: ActorSystem) -> None:
    """8 messages to 'a' (7 ok, 1 failed), 1 restart, 1 ask timeout, 2 dead letters."""
    a = await system.spawn(Worker, name="a")
    for i in range(3):
        await a.tell(i)
    assert await a.ask("x", timeout=5) == "x"
    await a.tell("boom")
    await wait_restarted(system, "a", 1)
    assert await a.ask("y", timeout=5) == "y"
    hold = Hold()
    with pytest.raises(AskTimeout):
        await a.ask(hold, timeout=0.05)  # the handler holds until released: always times out
    hold.release()
    assert await a.ask("z", timeout=5) == "z"
    await system.bus.tell("nobody", 1)
    await system.bus.publish("news", 1)


async def test_exact_values_after_known_traffic() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        await known_traffic(system)
        s = parse(metrics.scrape())

        assert value(s, P + "messages_received_total", actor="a") == 8
        assert value(s, P + "messages_processed_total", actor="a", outcome="ok") == 7
        assert value(s, P + "messages_processed_total", actor="a", outcome="failed") == 1
        assert value(s, P + "messages_processed_total", actor="a", outcome="cancelled") == 0
        assert value(s, P + "messages_processed_total", actor="a", outcome="expired") == 0
        assert value(s, P + "messages_dropped_total", actor="a") == 0
        assert value(s, P + "restarts_total", actor="a") == 1
        assert value(s, P + "restarts_total", actor="root") == 0
        assert value(s, P + "asks_timed_out_total", actor="a") == 1
        assert value(s, P + "mailbox_depth", actor="a") == 0
        assert value(s, P + "mailbox_capacity", actor="a") == 1000
        assert value(s, P + "dead_letters_total", reason="unknown_recipient") == 1
        assert value(s, P + "dead_letters_total", reason="handler_failed") == 1
        assert value(s, P + "dead_letters_total", reason="dropped_newest") == 0
        assert value(s, P + "bus_publishes_total", topic="news") == 1
        assert value(s, P + "actors", state="running") == 2  # root and a
        assert value(s, P + "actors", state="stopped") == 0
        # supervisors only: root has an escalation series, a plain actor has none
        assert value(s, P + "supervisor_escalations_total", actor="root") == 0
        assert series(s, P + "supervisor_escalations_total") == [{"actor": "root"}]
        for hist in ("message_handling_seconds", "mailbox_wait_seconds"):
            assert value(s, f"{P}{hist}_count", actor="a") == 8
            assert value(s, f"{P}{hist}_bucket", actor="a", le="+Inf") == 8
            buckets = [
                (float(dict(labels)["le"]), v)
                for (name, labels), v in s.items()
                if name == f"{P}{hist}_bucket" and dict(labels)["actor"] == "a"
            ]
            assert len(buckets) == len(BUCKETS) + 1
            assert is_cumulative(buckets)
            assert value(s, f"{P}{hist}_sum", actor="a") >= 0
        # no Letta agents, no Letta series
        assert not series(s, P + "letta_requests_total")


async def test_dropped_messages_and_their_dead_letters() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        ref = await system.spawn(
            Worker, name="small", mailbox=MailboxConfig(capacity=1, overflow="drop_newest")
        )
        hold = Hold()
        await ref.tell(hold)
        await hold.entered.wait()
        await ref.tell("queued")
        await ref.tell("dropped")
        s = parse(metrics.scrape())
        assert value(s, P + "mailbox_depth", actor="small") == 1
        assert value(s, P + "mailbox_capacity", actor="small") == 1
        assert value(s, P + "messages_dropped_total", actor="small") == 1
        assert value(s, P + "messages_received_total", actor="small") == 2
        assert value(s, P + "dead_letters_total", reason="dropped_newest") == 1
        hold.release()
        cell = system.cell("small")
        assert cell is not None
        await wait_for(lambda: cell.stats.processed == 2, what="the queued message handled")
        s = parse(metrics.scrape())
        assert value(s, P + "messages_processed_total", actor="small", outcome="ok") == 2
        assert value(s, P + "mailbox_depth", actor="small") == 0


async def test_letta_agent_series() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        await system.spawn(Worker, name="agent")
        cell = system.cell("agent")
        assert cell is not None
        letta = LettaStats.attach(cell.stats, "http://user:secret@letta.local:8283/v1/?token=abc")
        letta.requests.update({"ok": 3, "error": 1})
        letta.duration.observe(0.2)
        letta.duration.observe(42.0)
        letta.duration.observe(250.0)
        letta.prompt_tokens = 1200
        letta.completion_tokens = 300
        letta.steps = 5
        letta.tool_calls.update({"search": 2})
        letta.breaker_state = "half_open"

        text = metrics.scrape()
        assert b"secret" not in text
        assert b"token=abc" not in text
        assert b"user" not in text
        s = parse(text)
        server = "http://letta.local:8283/v1"
        labels = {"actor": "agent", "server": server}
        assert value(s, P + "letta_requests_total", **labels, status="ok") == 3
        assert value(s, P + "letta_requests_total", **labels, status="error") == 1
        assert value(s, P + "letta_tokens_total", **labels, kind="prompt") == 1200
        assert value(s, P + "letta_tokens_total", **labels, kind="completion") == 300
        assert value(s, P + "letta_steps_total", **labels) == 5
        assert value(s, P + "letta_tool_calls_total", **labels, tool="search") == 2
        assert value(s, P + "letta_circuit_breaker_state", **labels, state="half_open") == 1
        assert value(s, P + "letta_circuit_breaker_state", **labels, state="open") == 0
        assert value(s, P + "letta_circuit_breaker_state", **labels, state="closed") == 0
        d = P + "letta_request_duration_seconds"
        assert value(s, d + "_count", **labels) == 3
        assert value(s, d + "_sum", **labels) == pytest.approx(292.2)
        assert value(s, d + "_bucket", **labels, le="10.0") == 1
        assert value(s, d + "_bucket", **labels, le="60.0") == 2
        assert value(s, d + "_bucket", **labels, le="300.0") == 3  # minutes fit in a bucket


def test_server_label_strips_secrets() -> None:
    assert server_label("https://u:p@letta.example.com/api/?key=1#x") == (
        "https://letta.example.com/api"
    )
    assert server_label("http://127.0.0.1:8283") == "http://127.0.0.1:8283"
    assert server_label("") == ""


def test_catalog_follows_prometheus_naming_rules() -> None:
    specs = (*CATALOG, *LETTA_METRICS)
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names))
    for spec in specs:
        assert re.fullmatch(r"letta_actors_[a-z][a-z0-9_]*[a-z0-9]", spec.name), spec.name
        assert spec.name.startswith(PREFIX)
        if spec.kind == "counter":
            assert spec.name.endswith("_total"), spec.name
        else:
            assert not spec.name.endswith("_total"), spec.name
        if spec.kind == "histogram":
            assert spec.name.endswith("_seconds"), spec.name
        assert not re.search(r"_(milli|micro|nano)?seconds_total$|_ms\b|_minutes?\b", spec.name)
        assert "le" not in spec.labels
        assert "quantile" not in spec.labels
        assert spec.help.endswith((".", ")"))
    # buckets fit: microseconds (message handling) to minutes (a Letta request)
    assert BUCKETS[0] <= 1e-5
    assert BUCKETS[-1] >= 300
    assert list(BUCKETS) == sorted(BUCKETS)


@pytest.mark.parametrize("mode", ["actor", "group"])
async def test_label_sets_match_the_catalog(mode: str) -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system, labels="group" if mode == "group" else "actor")
        await known_traffic(system)
        cell = system.cell("a")
        assert cell is not None
        letta = LettaStats.attach(cell.stats, "http://letta:8283")
        letta.requests["ok"] += 1
        letta.tool_calls["t"] += 1
        s = parse(metrics.scrape())
        by_name = {spec.name: spec for spec in (*CATALOG, *LETTA_METRICS)}
        seen = set()
        for name, labels in s:
            keys = {k for k, _ in labels}
            base = name
            if name.endswith(("_bucket", "_count", "_sum")) and name.rsplit("_", 1)[0] in by_name:
                base = name.rsplit("_", 1)[0]
            spec = by_name[base]
            expected = set(spec.label_names(mode))
            if spec.name == P + "actors" and mode == "group":
                expected.add("group")
            if name.endswith("_bucket"):
                expected.add("le")
            assert keys == expected, (name, keys)
            seen.add(base)
        assert seen == set(by_name), set(by_name) - seen


async def test_fast_rendering_matches_prometheus_client_samples() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        await known_traffic(system)
        weird = 'we"ird\\na\nme'
        await system.spawn(Worker, name=weird)
        cell = system.cell("a")
        assert cell is not None
        LettaStats.attach(cell.stats, "http://letta:8283").duration.observe(1.5)
        text = parse(metrics.scrape())
        om = parse_om(metrics.scrape(openmetrics=True))
        # the same families, materialised as prometheus-client samples and encoded by it
        reference = parse(generate_latest(_Materialised(metrics)))
        assert text == reference
        assert {k: v for k, v in om.items() if not k[0].endswith("_created")} == reference
        assert value(text, P + "messages_received_total", actor=weird) == 0


class _Materialised:
    def __init__(self, metrics: SystemMetrics) -> None:
        self.metrics = metrics

    def collect(self):  # type: ignore[no-untyped-def]
        families = list(self.metrics.registry.collect())
        for family in families:
            assert family.samples is not None  # builds the prometheus-client samples
        return families


async def test_group_labels_aggregate_and_never_go_backwards() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system, labels="group")
        for name in ("w1", "w2", "w3"):
            ref = await system.spawn(Worker, name=name)
            await ref.ask("hi", timeout=5)
        other = await system.spawn(Other, name="o")
        await other.ask("hi", timeout=5)
        s = parse(metrics.scrape())
        assert value(s, P + "messages_received_total", group="Worker") == 3
        assert value(s, P + "messages_received_total", group="Other") == 1
        assert value(s, P + "actors", group="Worker", state="running") == 3
        assert value(s, P + "mailbox_capacity", group="Worker") == 3000
        assert value(s, P + "message_handling_seconds_count", group="Worker") == 3
        assert value(s, P + "supervisor_escalations_total", group="Supervisor") == 0
        assert "actor" not in {k for _, labels in s for k, _ in labels}

        await system.stop("w1")  # for good: its totals stay in the group
        s = parse(metrics.scrape())
        assert value(s, P + "messages_received_total", group="Worker") == 3
        assert value(s, P + "actors", group="Worker", state="running") == 2

        root = system.supervisor()
        await root.terminate_child("w2")
        s = parse(metrics.scrape())
        assert value(s, P + "messages_received_total", group="Worker") == 3
        await root.restart_child("w2")  # the same cell comes back: not counted twice
        s = parse(metrics.scrape())
        assert value(s, P + "messages_received_total", group="Worker") == 3
        await system.ref("w2").ask("again", timeout=5)
        s = parse(metrics.scrape())
        assert value(s, P + "messages_received_total", group="Worker") == 4
        assert value(s, P + "message_handling_seconds_count", group="Worker") == 4

        # An actor that lives and dies between two scrapes still counts.
        brief = await system.spawn(Worker, name="brief")
        await brief.ask("hi", timeout=5)
        await brief.stop()
        s = parse(metrics.scrape())
        assert value(s, P + "messages_received_total", group="Worker") == 5


async def test_custom_group_of_and_letta_breakers_by_group() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(
            system, labels="group", group_of=lambda info: info.name.rstrip("0123456789")
        )
        for i in range(4):
            await system.spawn(Worker, name=f"agent{i}")
            cell = system.cell(f"agent{i}")
            assert cell is not None
            letta = LettaStats.attach(cell.stats, "http://letta:8283")
            letta.breaker_state = "open" if i == 0 else "closed"
            letta.prompt_tokens = 10
        s = parse(metrics.scrape())
        labels = {"group": "agent", "server": "http://letta:8283"}
        assert value(s, P + "letta_circuit_breaker_state", **labels, state="open") == 1
        assert value(s, P + "letta_circuit_breaker_state", **labels, state="closed") == 3
        assert value(s, P + "letta_tokens_total", **labels, kind="prompt") == 40
        assert value(s, P + "actors", group="root", state="running") == 1


async def test_actor_labels_drop_series_of_stopped_actors() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        ref = await system.spawn(Worker, name="gone")
        await ref.ask("hi", timeout=5)
        assert value(parse(metrics.scrape()), P + "messages_received_total", actor="gone") == 1
        await system.stop("gone")
        s = parse(metrics.scrape())
        assert {"actor": "gone"} not in series(s, P + "messages_received_total")


async def test_label_values_from_code_are_bounded() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system, max_label_values=2)
        for topic in ("t1", "t2", "t3", "t4", "t3"):
            await system.bus.publish(topic, 1)
        s = parse(metrics.scrape())
        assert value(s, P + "bus_publishes_total", topic="t1") == 1
        assert value(s, P + "bus_publishes_total", topic="t2") == 1
        assert value(s, P + "bus_publishes_total", topic=OTHER) == 3
        assert len(series(s, P + "bus_publishes_total")) == 3
        await system.bus.publish("t1", 1)  # admitted values stay admitted
        s = parse(metrics.scrape())
        assert value(s, P + "bus_publishes_total", topic="t1") == 2


async def test_two_systems_do_not_see_each_other() -> None:
    async with ActorSystem(name="one") as one, ActorSystem(name="two") as two:
        m1, m2 = SystemMetrics(one), SystemMetrics(two)
        assert m1.registry is not m2.registry
        await (await one.spawn(Worker, name="a")).ask("x", timeout=5)
        await (await two.spawn(Worker, name="b")).ask("x", timeout=5)
        await two.bus.tell("nobody", 1)
        s1, s2 = parse(m1.scrape()), parse(m2.scrape())
        assert {"actor": "a"} in series(s1, P + "messages_received_total")
        assert {"actor": "b"} not in series(s1, P + "messages_received_total")
        assert {"actor": "b"} in series(s2, P + "messages_received_total")
        assert {"actor": "a"} not in series(s2, P + "messages_received_total")
        assert value(s1, P + "dead_letters_total", reason="unknown_recipient") == 0
        assert value(s2, P + "dead_letters_total", reason="unknown_recipient") == 1


async def test_default_registry_option() -> None:
    async with ActorSystem() as system, ActorSystem() as other:
        before = generate_latest(REGISTRY)
        assert b"letta_actors_" not in before
        with SystemMetrics(system, register_default=True) as metrics:
            assert metrics.registry is REGISTRY
            await (await system.spawn(Worker, name="a")).ask("x", timeout=5)
            s = parse(generate_latest(REGISTRY))
            assert value(s, P + "messages_received_total", actor="a") == 1
            # the default registry's other collectors (process, gc...) are served too
            assert any(name.startswith("python_") for name, _ in s)
            mine = parse(metrics.scrape())  # metrics.scrape() serves that same registry
            assert value(mine, P + "messages_received_total", actor="a") == 1
            assert any(name.startswith("python_") for name, _ in mine)
            with pytest.raises(ValueError, match="Duplicated"):
                SystemMetrics(other, register_default=True)
        assert b"letta_actors_" not in generate_latest(REGISTRY)


def test_options_are_validated() -> None:
    system = ActorSystem()
    with pytest.raises(ValueError, match="labels"):
        SystemMetrics(system, labels="everything")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="group_of"):
        SystemMetrics(system, group_of=lambda info: "x")
    with pytest.raises(ValueError, match="max_label_values"):
        SystemMetrics(system, max_label_values=0)
    with pytest.raises(ValueError, match="either"):
        SystemMetrics(system, register_default=True, registry=CollectorRegistry())
    registry = CollectorRegistry()
    metrics = SystemMetrics(system, registry=registry)
    assert metrics.registry is registry
    metrics.close()
    metrics.close()
    assert list(registry.collect()) == []


def _reference(system: ActorSystem, mode: str) -> dict[tuple[str, str], float]:
    """A few series computed the plain way, one ActorInfo at a time (live actors only)."""
    out: dict[tuple[str, str], float] = {}
    for info in system.actors():
        key = info.actor_class or "" if mode == "group" else info.name
        for name, n in (
            ("messages_received_total", info.stats.received),
            ("message_handling_seconds_count", info.stats.handling.count),
            ("mailbox_capacity", info.mailbox_capacity),
        ):
            out[name, key] = out.get((name, key), 0) + n
        letta = LettaStats.of(info.stats)
        if letta is not None:
            name = "letta_tokens_total"
            out[name, key] = out.get((name, key), 0) + letta.prompt_tokens
    return out


def _exported(s: Samples, mode: str) -> dict[tuple[str, str], float]:
    subject = "group" if mode == "group" else "actor"
    names = ("messages_received_total", "message_handling_seconds_count", "mailbox_capacity")
    out = {(name[len(P) :], dict(labels)[subject]): v for (name, labels), v in s.items()
           if name[len(P) :] in names}  # fmt: skip
    for (name, labels), v in s.items():
        if name == P + "letta_tokens_total" and dict(labels)["kind"] == "prompt":
            out["letta_tokens_total", dict(labels)[subject]] = v
    return out


@pytest.mark.parametrize("mode", ["actor", "group"])
async def test_every_scrape_sees_the_changes_since_the_last(mode: str) -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system, labels="group" if mode == "group" else "actor")
        refs = [await system.spawn(Worker, name=f"w{i}") for i in range(5)]

        def check() -> None:
            exported = _exported(parse(metrics.scrape()), mode)
            if mode == "actor":
                assert exported == _reference(system, mode)
            else:  # groups also keep the totals of actors that stopped for good
                assert exported.keys() >= _reference(system, mode).keys()

        check()
        for ref in refs:
            await ref.ask("hi", timeout=5)  # new counts, the same actors
        check()
        await (await system.spawn(Other, name="o")).ask("hi", timeout=5)  # a newcomer
        check()
        cell = system.cell("w1")
        assert cell is not None
        LettaStats.attach(cell.stats, "http://letta:8283").prompt_tokens = 7  # attached later
        check()
        await system.stop("w2")  # gone...
        check()
        w2 = await system.spawn(Worker, name="w2")  # ...and the name back, with fresh counters
        await w2.ask("again", timeout=5)
        check()
        s = parse(metrics.scrape())
        if mode == "actor":
            assert value(s, P + "messages_received_total", actor="w2") == 1
        else:
            assert value(s, P + "messages_received_total", group="Worker") == 6
            assert value(s, P + "letta_tokens_total", group="Worker", server="http://letta:8283",
                         kind="prompt") == 7  # fmt: skip
