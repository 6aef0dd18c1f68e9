"""Typed clients for the scripted LLM's admin endpoints (``/_scripted/...``).

:class:`ScriptedLLMAdmin` is synchronous (fixtures, scripts);
:class:`AsyncScriptedLLMAdmin` works on asyncio and trio. Both raise
``httpx.HTTPStatusError`` on an error status and ``httpx.HTTPError`` when the
server cannot be reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import BaseModel

from letta_actors.localstack.recorder import RecordedRequest, Stats
from letta_actors.localstack.rules import Rule


class RulesState(BaseModel):
    """The rules in order and how often each was used."""

    rules: list[Rule]
    used: list[int]


class WaitResult(BaseModel):
    satisfied: bool
    stats: Stats


def _rules_json(rules: Rule | Sequence[Rule]) -> list[dict[str, Any]]:
    items = [rules] if isinstance(rules, Rule) else list(rules)
    return [r.model_dump(mode="json", exclude_none=True) for r in items]


def _wait_params(
    in_flight_at_least: int | None, chat_requests_at_least: int | None, timeout: float
) -> dict[str, str]:
    params = {"timeout": str(timeout)}
    if in_flight_at_least is not None:
        params["in_flight_at_least"] = str(in_flight_at_least)
    if chat_requests_at_least is not None:
        params["chat_requests_at_least"] = str(chat_requests_at_least)
    return params


def _requests(resp: httpx.Response) -> list[RecordedRequest]:
    resp.raise_for_status()
    return [RecordedRequest.model_validate(item) for item in resp.json()]


class ScriptedLLMAdmin:
    """Drive a scripted LLM at ``root_url`` (e.g. ``http://127.0.0.1:8299``, no ``/v1``)."""

    def __init__(self, root_url: str, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=root_url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ScriptedLLMAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_rules(self, rules: Rule | Sequence[Rule]) -> None:
        """Replace all rules."""
        self._http.put("/_scripted/rules", json=_rules_json(rules)).raise_for_status()

    def add_rules(self, rules: Rule | Sequence[Rule]) -> None:
        """Append rules (they match after the existing ones)."""
        self._http.post("/_scripted/rules", json=_rules_json(rules)).raise_for_status()

    def clear_rules(self) -> None:
        self._http.delete("/_scripted/rules").raise_for_status()

    def rules(self) -> RulesState:
        resp = self._http.get("/_scripted/rules")
        resp.raise_for_status()
        return RulesState.model_validate(resp.json())

    def requests(
        self, limit: int | None = None, include_body: bool = True
    ) -> list[RecordedRequest]:
        """Recorded requests, oldest first (the last ``limit`` ones)."""
        params: dict[str, str] = {"include_body": str(include_body).lower()}
        if limit is not None:
            params["limit"] = str(limit)
        return _requests(self._http.get("/_scripted/requests", params=params))

    def stats(self) -> Stats:
        resp = self._http.get("/_scripted/stats")
        resp.raise_for_status()
        return Stats.model_validate(resp.json())

    def reset(self, rules: bool = False) -> Stats:
        """Zero the counters and forget recorded requests; with ``rules`` also clear rules and
        answer every held request (``latency_seconds``) at once, with a 503."""
        resp = self._http.post("/_scripted/reset", params={"rules": str(rules).lower()})
        resp.raise_for_status()
        return Stats.model_validate(resp.json())

    def wait(
        self,
        *,
        in_flight_at_least: int | None = None,
        chat_requests_at_least: int | None = None,
        wait_seconds: float = 10.0,
    ) -> WaitResult:
        """Block until the thresholds hold or ``wait_seconds`` passed (``satisfied`` False)."""
        resp = self._http.get(
            "/_scripted/wait",
            params=_wait_params(in_flight_at_least, chat_requests_at_least, wait_seconds),
            timeout=wait_seconds + 10,
        )
        resp.raise_for_status()
        return WaitResult.model_validate(resp.json())


class AsyncScriptedLLMAdmin:
    """Async twin of :class:`ScriptedLLMAdmin` (anyio: asyncio or trio).

    ``transport`` lets tests talk to an in-process app (``httpx.ASGITransport``).
    """

    def __init__(
        self,
        root_url: str,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=root_url.rstrip("/"), timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncScriptedLLMAdmin:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def set_rules(self, rules: Rule | Sequence[Rule]) -> None:
        (await self._http.put("/_scripted/rules", json=_rules_json(rules))).raise_for_status()

    async def add_rules(self, rules: Rule | Sequence[Rule]) -> None:
        (await self._http.post("/_scripted/rules", json=_rules_json(rules))).raise_for_status()

    async def clear_rules(self) -> None:
        (await self._http.delete("/_scripted/rules")).raise_for_status()

    async def rules(self) -> RulesState:
        resp = await self._http.get("/_scripted/rules")
        resp.raise_for_status()
        return RulesState.model_validate(resp.json())

    async def requests(
        self, limit: int | None = None, include_body: bool = True
    ) -> list[RecordedRequest]:
        params: dict[str, str] = {"include_body": str(include_body).lower()}
        if limit is not None:
            params["limit"] = str(limit)
        return _requests(await self._http.get("/_scripted/requests", params=params))

    async def stats(self) -> Stats:
        resp = await self._http.get("/_scripted/stats")
        resp.raise_for_status()
        return Stats.model_validate(resp.json())

    async def reset(self, rules: bool = False) -> Stats:
        resp = await self._http.post("/_scripted/reset", params={"rules": str(rules).lower()})
        resp.raise_for_status()
        return Stats.model_validate(resp.json())

    async def wait(
        self,
        *,
        in_flight_at_least: int | None = None,
        chat_requests_at_least: int | None = None,
        wait_seconds: float = 10.0,
    ) -> WaitResult:
        resp = await self._http.get(
            "/_scripted/wait",
            params=_wait_params(in_flight_at_least, chat_requests_at_least, wait_seconds),
            timeout=wait_seconds + 10,
        )
        resp.raise_for_status()
        return WaitResult.model_validate(resp.json())
