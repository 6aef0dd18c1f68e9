"""A small synchronous client of a running daemon's HTTP API (what the CLI uses)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8765"
URL_VAR = "LETTA_ACTORS_URL"
TOKEN_VAR = "LETTA_ACTORS_API_TOKEN"


class ApiError(Exception):
    """The daemon answered with an error status (``status``, ``body``) or could not be reached
    (``status`` 0)."""

    def __init__(self, status: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else body
        code = body.get("error") if isinstance(body, dict) else None
        super().__init__(f"HTTP {status} {code or ''}: {detail}" if status else str(body))
        self.status = status
        self.body = body


class Client:
    """Talks to the daemon at ``url`` (default ``$LETTA_ACTORS_URL``) with the bearer token of
    ``$LETTA_ACTORS_API_TOKEN`` (or ``token_env``), if set."""

    def __init__(
        self, url: str | None = None, *, token_env: str = TOKEN_VAR, timeout: float = 30.0
    ) -> None:
        self.url = (url or os.environ.get(URL_VAR) or DEFAULT_URL).rstrip("/")
        token = os.environ.get(token_env)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"cannot reach the daemon at {self.url}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.is_error:
            raise ApiError(response.status_code, body)
        return body

    def ask(self, agent: str, message: Any, timeout: float | None = None) -> Any:
        body: dict[str, Any] = {"message": message}
        if timeout is not None:
            body["timeout"] = timeout
        wait = (timeout or 600.0) + 10.0
        return self._call("POST", f"/v1/agents/{agent}/ask", json=body, timeout=wait)

    def tell(self, agent: str, message: Any) -> Any:
        return self._call("POST", f"/v1/agents/{agent}/tell", json={"message": message})

    def start_run(self, workflow: str, message: Any) -> Any:
        return self._call("POST", f"/v1/workflows/{workflow}/runs", json={"input": message})

    def run(self, run_id: str) -> Any:
        return self._call("GET", f"/v1/runs/{run_id}")

    def actors(self) -> Any:
        return self._call("GET", "/v1/actors")

    def team(self) -> Any:
        return self._call("GET", "/v1/team")

    def cluster(self) -> Any:
        """The daemon's view of the cluster; None for a team in one process."""
        try:
            return self._call("GET", "/v1/cluster")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def ready(self) -> tuple[bool, Any]:
        try:
            return True, self._call("GET", "/readyz")
        except ApiError as exc:
            if exc.status == 503:
                return False, exc.body
            raise

    def events(self, run_id: str, interval: float = 0.5) -> Iterator[tuple[str, Any]]:
        """The run's server-sent events as ``(event, data)`` until its ``record``."""
        path = f"/v1/runs/{run_id}/events"
        try:
            with self.http.stream(
                "GET", path, params={"interval": interval}, timeout=None
            ) as response:
                if response.is_error:
                    response.read()
                    raise ApiError(response.status_code, response.json())
                event = "message"
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        yield event, json.loads(line[6:])
        except httpx.HTTPError as exc:
            raise ApiError(0, f"lost the daemon at {self.url}: {exc}") from None
