"""Chaos: 100,000 messages into a supervision tree whose handlers fail at random and whose
actors crash; every message is accounted for exactly once and memory stays flat."""

from __future__ import annotations

import functools
import gc
import logging
import random
import tracemalloc
from collections import Counter
from typing import Any

import anyio
import pytest

from letta_actors import (
    NO_BACKOFF,
    Actor,
    ActorSystem,
    ChildSpec,
    DeadLetterReason,
    Intensity,
    Supervisor,
)
from letta_actors.supervisors import Strategy

from ..helpers import Boom

pytestmark = pytest.mark.anyio

TOTAL = 100_000
PHASES = 2
SENDERS = 8
FAILURE_RATE = 0.02
LENIENT = Intensity(max_restarts=10**9, period=1)


def fails(message_id: int, attempt: int) -> bool:
    return random.Random(message_id * 31 + attempt).random() < FAILURE_RATE


class ChaosWorker(Actor):
    """Fails at random and crashes (the supervisor restarts it)."""

    def __init__(self, processed: Counter[int]) -> None:
        self.processed = processed

    async def receive(self, message: Any) -> Any:
        if message == "ping":
            return "pong"
        assert self.envelope is not None
        if fails(message, self.envelope.attempt):
            raise Boom(message)
        self.processed[message] += 1
        return message


class ResumingChaosWorker(ChaosWorker):
    """Fails at random but keeps going (the failure goes to the asker or dead letters)."""

    restart_on_error = False


def subtree(strategy: Strategy, index: int, processed: Counter[int]) -> Supervisor:
    children = [
        ChildSpec(
            factory=functools.partial((ChaosWorker, ResumingChaosWorker)[w % 2], processed),
            name=f"w{index}.{w}",
            max_attempts=1 + w % 3,
        )
        for w in range(5)
    ]
    return Supervisor(children, strategy=strategy, intensity=LENIENT, backoff=NO_BACKOFF)


def runtime_memory() -> int:
    """Bytes allocated by the runtime's own code and still alive (test bookkeeping excluded)."""
    gc.collect()  # crash tracebacks form reference cycles: count only what is really kept
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, "*/letta_actors/*")]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def test_chaos_every_message_accounted_for_exactly_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Thousands of crash logs: pytest's log capture would keep every record (and traceback)
    # alive and blur the memory check. Logging itself is tested elsewhere.
    caplog.set_level(logging.CRITICAL + 1, logger="letta_actors")
    processed: Counter[int] = Counter()
    replied: Counter[int] = Counter()
    ask_errors: Counter[int] = Counter()
    dead: Counter[int] = Counter()
    strategies: list[Strategy] = ["one_for_one", "one_for_all", "rest_for_one", "one_for_one"]
    workers = [f"w{i}.{w}" for i in range(len(strategies)) for w in range(5)]
    rng = random.Random(1234)
    memory: list[int] = []

    async with ActorSystem(
        intensity=LENIENT, backoff=NO_BACKOFF, dead_letter_capacity=TOTAL
    ) as system:
        for index, strategy in enumerate(strategies):
            await system.spawn(
                functools.partial(subtree, strategy, index, processed), name=f"sub{index}"
            )
        tracemalloc.start()
        try:
            for phase in range(PHASES):
                per_sender = TOTAL // PHASES // SENDERS
                plans = [
                    [
                        (phase * TOTAL // PHASES + s * per_sender + k, rng.choice(workers),
                         rng.random() < 0.1)
                        for k in range(per_sender)
                    ]
                    for s in range(SENDERS)
                ]  # fmt: skip

                async def send(plan: list[tuple[int, str, bool]]) -> None:
                    for message_id, worker, is_ask in plan:
                        if is_ask:
                            try:
                                assert await system.ref(worker).ask(message_id) == message_id
                                replied[message_id] += 1
                            except Boom:
                                ask_errors[message_id] += 1
                        else:
                            await system.ref(worker).tell(message_id)

                async with anyio.create_task_group() as tg:
                    for plan in plans:
                        tg.start_soon(send, plan)
                for worker in workers:  # everything queued before this is handled
                    assert await system.ref(worker).ask("ping", timeout=30) == "pong"
                for letter in system.dead_letters:
                    assert letter.reason is DeadLetterReason.HANDLER_FAILED
                    assert isinstance(letter.error, Boom)
                    dead[letter.envelope.payload] += 1
                system.dead_letters.clear()
                memory.append(runtime_memory())
        finally:
            tracemalloc.stop()

        restarts = sum(c.stats.restarts for c in map(system.cell, workers) if c is not None)

    outcomes = processed + dead + ask_errors
    duplicated = [m for m, n in outcomes.items() if n != 1]
    assert not duplicated, f"{len(duplicated)} messages had more than one outcome"
    assert set(outcomes) == set(range(TOTAL)), "messages lost"
    assert set(replied) <= set(processed)
    assert restarts > 100  # crashes really happened
    assert sum(dead.values()) > 100 and sum(ask_errors.values()) > 10
    # The runtime's memory does not grow with traffic: the second 50,000 messages leave
    # nothing more behind than the first.
    assert memory[1] - memory[0] < 100_000, memory
