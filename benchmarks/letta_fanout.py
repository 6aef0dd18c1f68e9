"""Section ``letta_fanout``: one message to each of 20 Letta agents, through actors vs. direct.

Needs the local stack (``letta_actors.localstack``: scripted LLM + a real Letta server); it
is started, or reused when it already answers on the ports of ``LocalStackConfig.from_env()``
(``LETTA_ACTORS_LLM_PORT`` / ``LETTA_ACTORS_LETTA_PORT``), and stopped at the end if started
here. The scripted LLM answers these agents after ``LATENCY`` seconds.

The agents are created once, by the actors' own find-or-create (one ``LettaAgent`` actor per
agent, spawned in one ``ActorSystem``, one ``LettaConnection`` with ``max_in_flight`` >= the
number of agents, so the connection's limiter does not serialise the fan-out). Each round,
in alternating order:

- *direct* (the baseline): ``asyncio.gather`` of one ``client.agents.messages.create`` per
  agent, on an ``AsyncLetta(base_url=..., max_retries=0)`` client, to the same agents;
- *actors*: ``ref.ask`` of every actor in an anyio task group;
- *actors, FanOut pattern*: ``letta_actors.patterns.FanOut`` over the same actors.

A sample is the wall time from the first request to the last reply. Every reply is checked
(an assistant message with the scripted text). The agents are deleted at the end.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from benchmarks._core import (
    Measurement,
    Plan,
    RunConfig,
    SectionResult,
    Target,
    interleave,
    ratio,
    section,
)

LATENCY = 0.3  # seconds the scripted LLM waits before answering
REPLY = "fan-out reply"
TAG = "benchmark-letta-fanout"
ASK_TIMEOUT = 300.0

DIRECT = "AsyncLetta + asyncio.gather (direct)"
ACTORS = "letta_actors: ref.ask x N in a task group"
PATTERN = "letta_actors: FanOut pattern"
METRIC = "fan-out wall time"
CPU = "client CPU per fan-out"


@dataclass
class _Bench:
    """What the samples share: the actor system, the agents, the direct client."""

    system: Any  # ActorSystem
    names: list[str]
    agent_ids: list[str]
    client: Any  # AsyncLetta (the baseline's own client)
    rounds: int = 0

    def text(self, i: int) -> str:
        return f"round {self.rounds} task {i}: reply briefly"


@asynccontextmanager
async def _bench(base_url: str, n: int, model: str, embedding: str) -> AsyncIterator[_Bench]:
    """Spawn ``n`` agent actors (creating their agents), yield, then delete the agents."""
    from letta_client import AsyncLetta

    from letta_actors import ActorSystem
    from letta_actors.letta import AgentSpec, LettaAgent, LettaConnection

    run_id = uuid.uuid4().hex[:8]
    marker = f"LETTA-FANOUT-BENCH-{run_id}"
    names = [f"fanout-{run_id}-{i:02d}" for i in range(n)]
    client = AsyncLetta(base_url=base_url, max_retries=0)
    try:
        async with (
            LettaConnection(base_url=base_url, max_in_flight=max(n, 20)) as conn,
            ActorSystem() as system,
        ):
            try:

                async def spawn(name: str) -> None:
                    spec = AgentSpec(
                        name=name,
                        system=f"You are benchmark agent {name}. {marker}",
                        model=model,
                        embedding=embedding,
                        tags=(TAG, run_id),
                    )
                    await system.spawn(LettaAgent.factory(spec, conn), name=name)

                async with anyio.create_task_group() as tg:
                    for name in names:
                        tg.start_soon(spawn, name)
                by_name = {
                    a.name: a.id async for a in client.agents.list(tags=[run_id], limit=1000)
                }
                ids = [by_name[name] for name in names]
                yield _Bench(system, names, ids, client)
            finally:
                with anyio.CancelScope(shield=True):
                    async for agent in client.agents.list(tags=[run_id], limit=1000):
                        await client.agents.delete(agent.id)
    finally:
        await client.close()


Figures = tuple[float, float]
Fn = Callable[[_Bench], Coroutine[Any, Any, Figures]]


class _Clock:
    """Wall time and this process's CPU time (every thread) since creation."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def read(self) -> Figures:
        """(wall s, CPU ms)."""
        return time.perf_counter() - self.wall, (time.process_time() - self.cpu) * 1000


def _check(texts: list[str], what: str) -> None:
    bad = [t for t in texts if REPLY not in t]
    if bad:
        raise RuntimeError(f"{what}: {len(bad)} unexpected replies, e.g. {bad[0]!r}")


async def _direct(bench: _Bench) -> Figures:
    client = bench.client
    bench.rounds += 1
    clock = _Clock()
    responses = await asyncio.gather(
        *(
            client.agents.messages.create(
                agent_id, messages=[{"role": "user", "content": bench.text(i)}]
            )
            for i, agent_id in enumerate(bench.agent_ids)
        )
    )
    elapsed = clock.read()
    texts = [
        " ".join(
            str(m.content)
            for m in r.messages
            if getattr(m, "message_type", "") == "assistant_message"
        )
        for r in responses
    ]
    _check(texts, DIRECT)
    return elapsed


async def _actors(bench: _Bench) -> Figures:
    system = bench.system
    bench.rounds += 1
    texts: list[str] = [""] * len(bench.names)

    async def ask(i: int, name: str) -> None:
        reply = await system.ref(name).ask(bench.text(i), timeout=ASK_TIMEOUT)
        texts[i] = reply.text

    clock = _Clock()
    async with anyio.create_task_group() as tg:
        for i, name in enumerate(bench.names):
            tg.start_soon(ask, i, name)
    elapsed = clock.read()
    _check(texts, ACTORS)
    return elapsed


async def _pattern(bench: _Bench) -> Figures:
    from letta_actors.patterns import FanOut

    bench.rounds += 1
    tasks = [(f"t{i}", name, bench.text(i)) for i, name in enumerate(bench.names)]
    fan_out = FanOut.of(bench.system, tasks, concurrency=len(tasks), task_timeout=ASK_TIMEOUT)
    clock = _Clock()
    result = await fan_out.run()
    elapsed = clock.read()
    errors = [r.error for r in result.results if r.status != "ok"]
    if errors:
        raise RuntimeError(f"{PATTERN}: {len(errors)} tasks failed, e.g. {errors[0]}")
    _check([str(a) for a in result.answers().values()], PATTERN)
    return elapsed


def _stack_unavailable(stack: Any) -> str | None:
    """Why the stack cannot be used without installing Letta (None: it can)."""
    from letta_actors.localstack.stack import scripted_llm_answers

    if stack.letta.is_healthy() and scripted_llm_answers(stack.llm_root_url):
        return None
    if not stack.paths.letta_executable.exists():
        return "no Letta installed (python -m letta_actors.localstack install) and no stack up"
    return None


@section("letta_fanout", "fan-out to 20 Letta agents: actors vs. AsyncLetta + asyncio.gather")
def run(cfg: RunConfig) -> SectionResult:
    """Alternate direct and actor fan-outs to the same agents, round by round."""
    n = cfg.size(20, 5)
    note = f"{n} agents, LLM latency {LATENCY * 1000:.0f} ms"
    direct = Measurement(DIRECT, METRIC, "s", "lower", baseline=True, note=note)
    actors = Measurement(ACTORS, METRIC, "s", "lower", note=note)
    pattern = Measurement(PATTERN, METRIC, "s", "lower", note=f"{note}; concurrency={n}")
    cpu_note = "this process (client side), all threads; not the Letta server's"
    cpu = [
        Measurement(subject, CPU, "ms", "lower", baseline=subject == DIRECT, note=cpu_note)
        for subject in (DIRECT, ACTORS, PATTERN)
    ]
    rows = [direct, actors, pattern, *cpu]
    result = SectionResult(
        measurements=rows,
        targets=[
            Target(
                f"fan-out of {n} Letta agents through actors <= 1.05x direct AsyncLetta "
                "+ asyncio.gather",
                ACTORS,
                METRIC,
                "<=",
                1.05,
                relative=True,
            ),
            Target(
                f"fan-out of {n} Letta agents through the FanOut pattern <= 1.05x direct",
                PATTERN,
                METRIC,
                "<=",
                1.05,
                relative=True,
            ),
        ],
        paired=True,
        notes=[
            f"one user message to each of {n} agents at once; a sample is the wall time "
            "until every reply is in; the three subjects take turns (order rotated each "
            "round) on the same agents, the same Letta server, in one event loop",
            f"scripted LLM latency {LATENCY * 1000:.0f} ms per call (one call per message); "
            "the Letta server's own CPU work (2 shared cores here) dominates the rest",
        ],
    )
    try:
        from letta_actors.localstack import LocalStack, LocalStackConfig, Rule, TextReply

        stack = LocalStack(LocalStackConfig.from_env())
        why = _stack_unavailable(stack)
        if why is None:
            stack.start()
    except Exception as exc:
        why = f"local stack: {type(exc).__name__}: {exc}"
    if why is not None:
        for m in rows:
            m.skipped = why
        return result

    rule_name = f"benchmark-letta-fanout-{uuid.uuid4().hex[:8]}"
    try:
        stack.admin.add_rules(
            Rule(
                name=rule_name,
                system_contains="LETTA-FANOUT-BENCH-",
                latency_seconds=LATENCY,
                reply=TextReply(text=REPLY),
            )
        )
        with start_blocking_portal(backend="asyncio") as portal:
            _measure(cfg, portal, stack, n, rows)
    except Exception as exc:
        for m in rows:
            m.samples.clear()
            m.skipped = f"failed: {type(exc).__name__}: {exc}"
    finally:
        try:
            state = stack.admin.rules()
            stack.admin.set_rules([r for r in state.rules if r.name != rule_name])
        finally:
            stack.stop()

    vs = ratio(pattern, actors, paired=True)
    if vs is not None:
        pattern.note += f"; {vs:.2f}x ref.ask task group"
    return result


def _measure(
    cfg: RunConfig, portal: BlockingPortal, stack: Any, n: int, rows: list[Measurement]
) -> None:
    direct, actors, pattern, *cpu = rows
    subjects: list[tuple[list[Measurement], Fn]] = [
        ([direct, cpu[0]], _direct),
        ([actors, cpu[1]], _actors),
        ([pattern, cpu[2]], _pattern),
    ]
    cm = _bench(stack.letta_base_url, n, stack.model_handle, stack.embedding_handle)
    with portal.wrap_async_context_manager(cm) as bench:

        def plan(order: list[tuple[list[Measurement], Fn]]) -> Plan:
            return [
                (ms, partial(_sample, portal, fn, bench)) for ms, fn in order if not ms[0].skipped
            ]

        if not cfg.quick:  # one warm-up fan-out per subject (a failing one is skipped)
            interleave(RunConfig(quick=False, repeats=0), plan(subjects))
        # interleave() keeps the plan's order every round: rotate it between rounds instead,
        # so no subject always runs right after the same other one.
        for k in range(cfg.repeats):
            turn = k % len(subjects)
            interleave(RunConfig(quick=True, repeats=1), plan(subjects[turn:] + subjects[:turn]))


def _sample(portal: BlockingPortal, fn: Fn, bench: _Bench) -> Figures:
    return portal.call(fn, bench)
