"""Bad input is refused where it is given, with an error that says what is wrong."""

from __future__ import annotations

import math
from typing import Any

import pydantic
import pytest

from letta_actors import (
    Actor,
    ActorNotFound,
    ActorSystem,
    Intensity,
    MailboxConfig,
    SystemStopped,
)

from .helpers import Echo, Recorder

pytestmark = pytest.mark.anyio


class NoReceive(Actor):
    pass


class SyncReceive(Actor):
    def receive(self, message: Any) -> Any:
        return message


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (NoReceive, "does not define receive"),
        (lambda: NoReceive(), "does not define receive"),
        (SyncReceive, "must be a coroutine function"),
        (lambda: "not an actor", "not an Actor"),
    ],
)
async def test_spawn_refuses_an_actor_without_an_async_receive(factory: Any, match: str) -> None:
    async with ActorSystem() as system:
        with pytest.raises(TypeError, match=match):
            await system.spawn(factory, name="bad")
        assert system.cell("bad") is None
        assert system.running


async def test_spawn_under_an_actor_that_is_no_supervisor_raises() -> None:
    async with ActorSystem() as system:
        await system.spawn(Echo, name="plain")
        with pytest.raises(TypeError, match="'plain' is a Echo, not a Supervisor"):
            await system.spawn(Echo, name="child", supervisor="plain")
        with pytest.raises(ActorNotFound):
            await system.spawn(Echo, name="child", supervisor="nobody")
        assert system.cell("child") is None


@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"strategy": "bogus"}, ValueError, "unknown strategy 'bogus'"),
        ({"intensity": 3}, TypeError, "intensity must be an Intensity"),
        ({"ask_timeout": "1"}, TypeError, "ask_timeout must be a number of seconds"),
        ({"ask_timeout": True}, TypeError, "ask_timeout must be a number of seconds"),
        ({"shutdown_timeout": 0}, ValueError, "shutdown_timeout must be > 0"),
        ({"mailbox": {"capacity": 3}}, TypeError, "mailbox must be a MailboxConfig"),
        ({"dead_letter_capacity": "10"}, TypeError, "dead_letter_capacity must be an int"),
    ],
)
def test_the_system_constructor_refuses_bad_settings(
    settings: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ActorSystem(**settings)


def test_intensity_is_checked_in_the_constructor_not_on_entry() -> None:
    ActorSystem(intensity=Intensity(max_restarts=1, period=1))  # fine


@pytest.mark.parametrize(
    ("timeout", "error"),
    [("1", TypeError), (True, TypeError), (None, None), (0, ValueError), (-1.0, ValueError),
     (math.nan, ValueError), (1, None), (math.inf, None)],
)  # fmt: skip
async def test_ask_timeout_must_be_a_positive_number(
    timeout: Any, error: type[Exception] | None
) -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="e")
        if error is None:
            assert await ref.ask("x", timeout=timeout) == "x"
        else:
            with pytest.raises(error, match="ask timeout"):
                await ref.ask("x", timeout=timeout)


@pytest.mark.parametrize("capacity", [True, "10", 10.0, 0])
def test_mailbox_capacity_must_be_a_positive_int(capacity: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        MailboxConfig(capacity=capacity)


async def test_publish_on_a_stopped_system_raises() -> None:
    async with ActorSystem() as system:
        await system.spawn(Recorder, name="r")
        system.bus.subscribe("news", "r")
    with pytest.raises(SystemStopped):
        await system.bus.publish("news", "late")
    with pytest.raises(SystemStopped):
        await system.bus.publish("no-subscribers", "late")


async def test_a_ref_of_another_system_is_refused() -> None:
    async with ActorSystem(name="a") as a, ActorSystem(name="b") as b:
        ref_a = await a.spawn(Recorder, name="same")
        await b.spawn(Recorder, name="same")
        with pytest.raises(ValueError, match="belongs to actor system 'a', not to 'b'"):
            await b.bus.tell(ref_a, "wrong system")
        with pytest.raises(ValueError, match="belongs to actor system 'a'"):
            await b.bus.ask(ref_a, "wrong system")
        with pytest.raises(ValueError, match="belongs to actor system 'a'"):
            b.bus.subscribe("t", ref_a)
        with pytest.raises(ValueError, match="belongs to actor system 'a'"):
            b.watch(ref_a, "same")
        with pytest.raises(ValueError, match="belongs to actor system 'a'"):
            await b.spawn(Echo, name="x", supervisor=ref_a)
        with pytest.raises(TypeError, match="actor name or ActorRef"):
            await b.bus.tell(42, "x")  # type: ignore[arg-type]
        assert await b.lookup("same").ask("log") == []


# -- a Letta server that is down at start-up ------------------------------------------------


def letta_connection(answers: list[str]) -> Any:
    """A LettaConnection whose transport pops ``"refused"`` or ``"ok"`` per request."""
    import httpx
    from letta_client import AsyncLetta

    from letta_actors.letta import LettaConnection, RetryPolicy

    def handle(request: httpx.Request) -> httpx.Response:
        if answers.pop(0) == "refused":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return httpx.Response(200, json=[])

    client = AsyncLetta(
        base_url="http://127.0.0.1:9",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )
    retry = RetryPolicy(base_delay=0.001, max_delay=0.001, jitter=0)
    return LettaConnection(base_url="http://127.0.0.1:9", client=client, retry=retry)


async def test_a_letta_server_down_at_start_up_fails_fast_in_one_line() -> None:
    from letta_actors.letta import LettaRequestFailed

    answers = ["refused"] * 100
    async with letta_connection(answers) as conn:
        with pytest.raises(LettaRequestFailed) as info:
            await conn.request(lambda client: client.agents.list(), what="list agents")
    error = info.value
    assert error.status == "unreachable"
    assert error.attempts <= conn.config.retry.max_attempts
    message = str(error)
    assert "\n" not in message
    assert "http://127.0.0.1:9" in message and "start it" in message
    assert error.__cause__ is None and error.__suppress_context__  # no chained tracebacks


async def test_a_letta_server_that_answered_once_gets_the_full_retry_policy() -> None:
    answers = ["ok", "refused", "refused", "refused", "ok"]
    async with letta_connection(answers) as conn:
        await conn.request(lambda client: client.agents.list(), what="list agents")
        await conn.request(lambda client: client.agents.list(), what="list agents")
    assert answers == []
