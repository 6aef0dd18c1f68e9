"""A real daemon facing hostile clients over raw sockets: the token is checked before the body
is read, heads are bounded, slow clients are cut off, and requests in progress are capped."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import h11
import httpx

from .conftest import StartDaemon, cli
from .helpers import ECHO_TEAM, wait_for

TOKEN = "hostile-secret-token-3e7a"
LIMITS = "[api]\nidle_timeout = 0.5\nbody_timeout = 0.5\nmax_concurrent_requests = 2\n"
HELD = (
    '[agents.held]\nkind = "python"\nfactory = "tests.daemon.actors:Slow"\nargs = { delay = 30 }\n'
)
TIGHT = ECHO_TEAM.replace("[api]\n", LIMITS) + "\n" + HELD


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=20)
    return sock


def answer(sock: socket.socket) -> h11.Response | None:
    """The response read from ``sock`` (None if the server closed without one)."""
    parser = h11.Connection(h11.CLIENT)
    parser.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    while True:
        event = parser.next_event()
        if isinstance(event, h11.Response):
            return event
        if event is h11.NEED_DATA:
            data = sock.recv(65536)
            parser.receive_data(data)
            if not data:
                return None
        elif isinstance(event, h11.ConnectionClosed):
            return None


def closed_by_server(sock: socket.socket) -> bool:
    """Reads until the server closes the connection (the socket's timeout bounds the wait)."""
    while sock.recv(65536):
        pass
    return True


def test_token_is_checked_before_the_body_is_read(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(ECHO_TEAM, env={"LETTA_ACTORS_API_TOKEN": TOKEN})
    with connect(daemon.url) as sock:
        # A body is promised (within max_body_bytes) and never sent: only a server that reads
        # bodies before checking the token would wait for it.
        sock.sendall(b"POST /v1/agents/echo/tell HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n")  # fmt: skip
        response = answer(sock)
    assert response is not None and response.status_code == 401


def test_two_authorization_headers_are_refused(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(ECHO_TEAM, env={"LETTA_ACTORS_API_TOKEN": TOKEN})
    headers = [("Authorization", "Bearer wrong"), ("Authorization", f"Bearer {TOKEN}")]
    with httpx.Client(base_url=daemon.url) as http:
        assert http.get("/v1/team", headers=headers[1:]).status_code == 200
        twice = http.get("/v1/team", headers=headers)
        assert twice.status_code == 401 and twice.json()["error"] == "unauthorized"
        # Readiness without the token: the status only (no Letta URL, names or errors).
        assert http.get("/readyz").json() == {"ready": True}
        assert "agents" in http.get("/readyz", headers=headers[1:]).json()


def test_heads_are_bounded_and_slow_clients_cut_off(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(TIGHT)
    many = "".join(f"X-H{i}: v\r\n" for i in range(10_000)).encode()
    with connect(daemon.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        response = answer(sock)
    assert response is not None and response.status_code == 431
    with connect(daemon.url) as sock:  # slowloris: a head that never ends
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
        assert closed_by_server(sock)
    with connect(daemon.url) as sock:  # a body promised and never sent in full
        sock.sendall(b"POST /v1/agents/echo/tell HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")  # fmt: skip
        response = answer(sock)
        assert response is not None and response.status_code == 408
        assert closed_by_server(sock)
    with httpx.Client(base_url=daemon.url) as http:
        assert http.get("/healthz").status_code == 200  # still serving


def test_requests_in_progress_are_capped(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(TIGHT)
    with daemon.client() as http, ThreadPoolExecutor(max_workers=2) as pool:
        # Two asks held by an agent that takes 30 s a message fill the cap of 2.
        held = [pool.submit(http.post, "/v1/agents/held/ask", json={"message": i, "timeout": 5})
                for i in range(2)]  # fmt: skip

        def refused() -> httpx.Response | None:
            response = http.get("/v1/team")
            return response if response.status_code == 503 else None

        busy = wait_for(refused, what="the cap reached")
        assert busy.json()["error"] == "too_busy" and busy.headers["retry-after"] == "1"
        assert http.get("/healthz").status_code == 200  # probes are never refused
        assert [f.result(timeout=30).status_code for f in held] == [504, 504]


def test_a_metrics_listener_beyond_loopback_needs_the_token(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    exposed = ECHO_TEAM + '\n[metrics]\nhost = "0.0.0.0"\nport = 0\n'
    config = tmp_path / "exposed.toml"
    config.write_text(exposed)
    refused = cli("run", str(config), env={"LETTA_ACTORS_API_TOKEN": ""})
    assert refused.returncode == 2 and "metrics listener" in refused.stderr
    daemon = start_daemon(exposed, env={"LETTA_ACTORS_API_TOKEN": TOKEN})
    assert daemon.metrics_url is not None
    url = daemon.metrics_url.replace("0.0.0.0", "127.0.0.1")
    with httpx.Client() as http:
        assert http.get(url).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert "letta_actors_actors" in http.get(url, headers=auth).text
