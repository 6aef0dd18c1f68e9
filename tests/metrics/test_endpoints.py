"""The standalone endpoint and the ASGI app: negotiation, compression, errors, same registry."""

from __future__ import annotations

import gzip

import anyio
import h11
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from letta_actors import ActorSystem
from letta_actors.metrics import SystemMetrics

from .helpers import Worker, parse, parse_om, value

pytestmark = pytest.mark.anyio

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT = "text/plain; version=0.0.4; charset=utf-8"
# what Prometheus 2.x sends
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


async def check_negotiation(client: httpx.AsyncClient, url: str) -> None:
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"] == TEXT
    assert "content-encoding" not in plain.headers
    assert value(parse(plain.content), "letta_actors_messages_received_total", actor="a") == 1

    om = await client.get(url, headers={"Accept": PROMETHEUS_ACCEPT})
    assert om.headers["content-type"].startswith(OPENMETRICS)
    assert om.text.endswith("# EOF\n")
    samples = parse_om(om.content)
    assert value(samples, "letta_actors_messages_received_total", actor="a") == 1

    om_plain = await client.get(url, headers={"Accept": "application/openmetrics-text"})
    assert om_plain.headers["content-type"].startswith("application/openmetrics-text")

    zipped = await client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decompressed it

    head = await client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == TEXT

    post = await client.post(url, content=b"x")
    assert post.status_code == 405
    assert "GET" in post.headers["allow"]


async def test_standalone_endpoint_serves_on_loopback() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        await (await system.spawn(Worker, name="a")).ask("x", timeout=5)
        async with metrics.serving() as server, httpx.AsyncClient() as client:
            assert server.host == "127.0.0.1"
            assert server.port > 0
            assert server.url == f"http://127.0.0.1:{server.port}/metrics"
            await check_negotiation(client, server.url)
            missing = await client.get(f"http://127.0.0.1:{server.port}/other")
            assert missing.status_code == 404


async def test_standalone_endpoint_raw_http_keep_alive_and_gzip() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        await (await system.spawn(Worker, name="a")).ask("x", timeout=5)
        async with metrics.serving(path="/m") as server:
            stream = await anyio.connect_tcp("127.0.0.1", server.port)
            async with stream:
                request = (
                    b"GET /m HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
                    b"GET /m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                await stream.send(request)
                data = b""
                with anyio.fail_after(10):
                    while True:
                        try:
                            data += await stream.receive()
                        except anyio.EndOfStream:
                            break
        client = h11.Connection(h11.CLIENT)  # parses the answers to the two requests sent

        def sent(*extra: tuple[str, str]) -> None:
            client.send(h11.Request(method="GET", target="/m", headers=[("Host", "x"), *extra]))
            client.send(h11.EndOfMessage())

        sent()
        client.receive_data(data)
        first, body, end = (client.next_event() for _ in range(3))
        assert isinstance(first, h11.Response) and isinstance(end, h11.EndOfMessage)
        assert first.status_code == 200 and isinstance(body, h11.Data)
        headers = {k.decode(): v.decode() for k, v in first.headers}
        assert headers["content-encoding"] == "gzip"
        assert "close" not in headers.get("connection", "")  # kept alive (HTTP/1.1's default)
        assert b"letta_actors_messages_received_total" in gzip.decompress(body.data)
        client.start_next_cycle()
        sent(("Connection", "close"))
        second = client.next_event()
        assert isinstance(second, h11.Response) and second.status_code == 200
        assert (b"connection", b"close") in second.headers


async def test_asgi_app_and_standalone_serve_the_same_registry() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        await (await system.spawn(Worker, name="a")).ask("x", timeout=5)
        transport = httpx.ASGITransport(app=metrics.asgi_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as asgi:
            await check_negotiation(asgi, "http://app/metrics")
            async with metrics.serving() as server, httpx.AsyncClient() as client:
                for accept in ("", PROMETHEUS_ACCEPT):
                    a = await asgi.get("/metrics", headers={"Accept": accept})
                    b = await client.get(server.url, headers={"Accept": accept})
                    assert a.headers["content-type"] == b.headers["content-type"]
                    assert a.content == b.content


async def test_asgi_app_mounted_in_starlette() -> None:
    async with ActorSystem() as system:
        metrics = SystemMetrics(system)
        await (await system.spawn(Worker, name="a")).ask("x", timeout=5)
        app = Starlette(routes=[Mount("/metrics", app=metrics.asgi_app())])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            response = await client.get("/metrics/")
            assert response.status_code == 200
            samples = parse(response.content)
            assert value(samples, "letta_actors_messages_received_total", actor="a") == 1


async def test_asgi_lifespan() -> None:
    async with ActorSystem() as system:
        app = SystemMetrics(system).asgi_app()
        sent: list[str] = []
        incoming = iter(["lifespan.startup", "lifespan.shutdown"])

        async def receive() -> dict[str, str]:
            return {"type": next(incoming)}

        async def send(message: object) -> None:
            assert isinstance(message, dict)
            sent.append(message["type"])

        await app({"type": "lifespan"}, receive, send)
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_serve_in_a_task_group_gives_the_bound_port() -> None:
    async with ActorSystem() as system, anyio.create_task_group() as tg:
        metrics = SystemMetrics(system, labels="group")
        server = await tg.start(metrics.serve)
        async with httpx.AsyncClient() as client:
            response = await client.get(server.url)
            assert value(parse(response.content), "letta_actors_actors", group="Supervisor",
                         state="running") == 1  # fmt: skip
        tg.cancel_scope.cancel()
