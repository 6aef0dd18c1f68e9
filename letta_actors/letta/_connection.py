"""One Letta server as seen by the actors: client, retry policy, breaker, limits, counters.

A :class:`LettaConnection` is created by the user and handed to every agent actor that talks
to that server; it holds no module-level state, so two systems (or two tests) never share one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import anyio
import httpx
from letta_client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncLetta,
    ConflictError,
    RateLimitError,
)

from ._config import BreakerConfig, ConnectionConfig
from ._errors import LettaCircuitOpen, LettaRequestFailed
from ._stats import LettaStats

log = logging.getLogger("letta_actors.letta")

T = TypeVar("T")

#: Seconds a request keeps retrying refused connections while the server has never answered
#: (start-up: it is down, or ``base_url`` is wrong); once it has answered, the retry policy.
UNREACHABLE_AT_START: Final = 3.0

CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half_open"


class _Resend:
    """Returned by a recovery callback: the request did not reach the server; send it again."""

    def __repr__(self) -> str:
        return "RESEND"


RESEND: Final = _Resend()


class PendingApprovalConflict(LettaRequestFailed):
    """HTTP 409 ``PENDING_APPROVAL``: the agent waits for a tool answer (internal signal)."""


class CircuitBreaker:
    """Closed / open / half-open breaker of one server (see :class:`BreakerConfig`)."""

    def __init__(self, config: BreakerConfig, on_change: Callable[[str], None]) -> None:
        self.config = config
        self.state: str = CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.probes = 0
        self.opened = 0  # times it opened
        self._on_change = on_change

    def _set(self, state: str) -> None:
        if state != self.state:
            log.info("letta circuit breaker: %s -> %s", self.state, state)
            self.state = state
            self._on_change(state)

    def acquire(self) -> float:
        """0.0: a request may go now (taking a probe slot when half-open); else seconds to wait."""
        if self.state == OPEN:
            remaining = self.opened_at + self.config.reset_timeout - time.monotonic()
            if remaining > 0:
                return remaining
            self._set(HALF_OPEN)
            self.probes = 0
        if self.state == HALF_OPEN:
            if self.probes >= self.config.half_open_max_calls:
                return min(1.0, self.config.reset_timeout)
            self.probes += 1
        return 0.0

    def release(self, *, ok: bool | None) -> None:
        """Report the outcome of an admitted request: True success, False failure, None neither."""
        if self.state == HALF_OPEN and self.probes > 0:
            self.probes -= 1
        if ok is None:
            return
        if ok:
            self.failures = 0
            self._set(CLOSED)
            return
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.config.failure_threshold:
            self.opened_at = time.monotonic()
            self.opened += 1
            self._set(OPEN)


class RateLimiter:
    """Requests-per-minute limit (GCRA token bucket holding ``burst`` tokens)."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.interval = 60.0 / per_minute
        self.burst = burst
        self._tat: float | None = None

    async def acquire(self) -> None:
        now = anyio.current_time()
        tat = now if self._tat is None else max(self._tat, now)
        allowed_at = tat - (self.burst - 1) * self.interval
        self._tat = tat + self.interval  # reserved before sleeping: no lock needed
        if allowed_at > now:
            await anyio.sleep(allowed_at - now)


def _retry_after(exc: APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class _Attempt:
    """How one failed attempt is classified."""

    __slots__ = ("ambiguous", "breaker", "error", "retry", "retry_after", "status", "status_code")

    def __init__(
        self,
        status: str,
        *,
        retry: bool,
        ambiguous: bool,
        breaker: bool | None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retry = retry
        self.ambiguous = ambiguous  # the server may have received (and acted on) the request
        self.breaker = breaker  # outcome for the breaker: False failure, True success, None none
        self.status_code = status_code
        self.retry_after = retry_after
        self.error: Exception | None = None  # the exception that failed the attempt


class LettaConnection:
    """A Letta server shared by agent actors: one ``AsyncLetta`` client (SDK retries off),
    the retry policy, a circuit breaker, a limit on requests in flight and an optional
    requests-per-minute limit. Use ``async with LettaConnection(...) as conn`` (or
    :meth:`aclose`), inside the event loop that runs the actors.
    """

    def __init__(
        self,
        config: ConnectionConfig | None = None,
        /,
        *,
        client: AsyncLetta | None = None,
        **settings: Any,
    ) -> None:
        if config is None:
            config = ConnectionConfig(**settings)
        elif settings:
            config = config.model_copy(update=settings)
        self.config = config
        self.server = str(config.base_url).rstrip("/")
        timeout = httpx.Timeout(config.request_timeout, connect=config.connect_timeout)
        self._own_client = client is None
        if client is None:
            client = AsyncLetta(
                base_url=self.server, api_key=config.api_key, max_retries=0, timeout=timeout
            )
        else:
            client = client.with_options(max_retries=0, timeout=timeout)
        self.client: AsyncLetta = client
        self.breaker = CircuitBreaker(config.breaker, self._breaker_changed)
        self.rate = (
            RateLimiter(config.requests_per_minute, config.burst)
            if config.requests_per_minute
            else None
        )
        self._limiter: anyio.CapacityLimiter | None = None
        self._stats: dict[str, LettaStats] = {}
        #: Requests in flight now, and the most seen at once.
        self.in_flight = 0
        self.peak_in_flight = 0
        #: ``time.monotonic()`` of the last refused connection (the server was down).
        self.unreachable_at: float | None = None
        #: The server has answered a request (any HTTP response) at least once.
        self.reached = False

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client (if this object created it)."""
        if self._own_client:
            await self.client.close()

    # -- stats ----------------------------------------------------------------------------

    def register(self, actor: str, stats: LettaStats) -> None:
        """Let the breaker state of this server show in ``stats`` (done by each agent actor)."""
        stats.server = self.server
        stats.breaker_state = self.breaker.state
        self._stats[actor] = stats

    def unregister(self, actor: str) -> None:
        self._stats.pop(actor, None)

    def _breaker_changed(self, state: str) -> None:
        for stats in self._stats.values():
            stats.breaker_state = state

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.config.max_in_flight)
        return self._limiter

    # -- requests -------------------------------------------------------------------------

    def _classify(self, exc: Exception) -> _Attempt | None:
        if isinstance(exc, APIConnectionError):
            cause = exc.__cause__
            if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout):
                self.unreachable_at = time.monotonic()
                return _Attempt("connection_error", retry=True, ambiguous=False, breaker=False)
            status = "timeout" if isinstance(exc, APITimeoutError) else "connection_error"
            return _Attempt(status, retry=True, ambiguous=True, breaker=False)
        if isinstance(exc, RateLimitError):
            return _Attempt("rate_limited", retry=True, ambiguous=False, breaker=True,
                            status_code=429, retry_after=_retry_after(exc))  # fmt: skip
        if isinstance(exc, ConflictError):
            body = exc.body
            detail = body.get("detail") if isinstance(body, dict) else None
            code = detail.get("code") if isinstance(detail, dict) else None
            status = "pending_approval" if code == "PENDING_APPROVAL" else "conflict"
            return _Attempt(status, retry=False, ambiguous=False, breaker=True, status_code=409)
        if isinstance(exc, APIStatusError):
            code = exc.status_code
            if code >= 500:
                return _Attempt("server_error", retry=True, ambiguous=True, breaker=False,
                                status_code=code, retry_after=_retry_after(exc))  # fmt: skip
            if code == 408:
                return _Attempt("timeout", retry=True, ambiguous=True, breaker=False,
                                status_code=code)  # fmt: skip
            return _Attempt("client_error", retry=False, ambiguous=False, breaker=True,
                            status_code=code)  # fmt: skip
        return None

    async def request(
        self,
        op: Callable[[AsyncLetta], Awaitable[T]],
        *,
        stats: LettaStats | None = None,
        what: str = "request",
        fail_fast: bool = True,
        recover: Callable[[], Awaitable[T | _Resend]] | None = None,
    ) -> T:
        """Run ``op(client)`` under the breaker, the limits and the retry policy.

        ``fail_fast``: when the breaker is open at the first attempt, raise
        :class:`LettaCircuitOpen` at once instead of waiting for it to half-open.
        ``recover``: called before a retry that follows an *ambiguous* failure (the server may
        have acted on the request); it returns the outcome found on the server, or
        :data:`RESEND` when the request is known not to have arrived. Without it, ambiguous
        failures are retried blindly (use that only for idempotent requests).

        Until the server has answered once, refused connections are retried for
        :data:`UNREACHABLE_AT_START` seconds only, then :class:`LettaRequestFailed` (status
        ``unreachable``) says in one line which URL is down and what to do.
        """
        started = time.monotonic()
        attempt = 0
        last: _Attempt | None = None
        while True:
            await self._admit(what, stats, attempt, last, started, fail_fast=fail_fast)
            attempt += 1
            result = await self._try(op, stats)
            if not isinstance(result, _Attempt):
                return result
            last = result
            delay = self._retry_delay(what, attempt, result, started)
            log.info("%s: attempt %d failed (%s); retrying in %.2f s", what, attempt,
                     result.status, delay)  # fmt: skip
            await anyio.sleep(delay)
            if result.ambiguous and recover is not None:
                found = await recover()
                if not isinstance(found, _Resend):
                    return found

    async def _admit(
        self,
        what: str,
        stats: LettaStats | None,
        attempt: int,
        last: _Attempt | None,
        started: float,
        *,
        fail_fast: bool,
    ) -> None:
        """Wait until the breaker admits an attempt; :class:`LettaCircuitOpen` if it is open at
        the first attempt with ``fail_fast``, or stays open past the retry deadline."""
        while (wait := self.breaker.acquire()) > 0:
            now = time.monotonic()
            if self._refused_at_start(last) and now + wait - started > UNREACHABLE_AT_START:
                raise self._unreachable(what, attempt)
            if stats is not None:
                stats.requests["circuit_open"] += 1
            if (fail_fast and attempt == 0) or now + wait > started + self.config.retry.deadline:
                raise LettaCircuitOpen(
                    f"{what}: circuit breaker of {self.server} is open",
                    status="circuit_open",
                    attempts=attempt,
                    server=self.server,
                )
            await anyio.sleep(max(wait, 0.05))

    async def _try(
        self, op: Callable[[AsyncLetta], Awaitable[T]], stats: LettaStats | None
    ) -> T | _Attempt:
        """One admitted attempt: its result, or how it failed (the breaker told either way).
        An error that is not Letta's (or a cancellation) propagates."""
        try:
            result = await self._attempt(op, stats)
        except Exception as exc:
            outcome = self._classify(exc)
            self.breaker.release(ok=None if outcome is None else outcome.breaker)
            if outcome is None:
                raise
            outcome.error = exc
        except BaseException:
            self.breaker.release(ok=None)
            raise
        else:
            self.breaker.release(ok=True)
            self.reached = True
            return result
        if outcome.status_code is not None:
            self.reached = True  # an HTTP answer: the server is up
        if stats is not None:
            stats.requests[outcome.status] += 1
        return outcome

    def _retry_delay(self, what: str, attempt: int, outcome: _Attempt, started: float) -> float:
        """Seconds to wait before retrying after ``outcome``, or the error that ends the request:
        :class:`PendingApprovalConflict` (409), ``unreachable`` (refused at start),
        :class:`LettaRequestFailed` (not retryable, out of attempts, past the deadline)."""
        policy = self.config.retry
        error = outcome.error
        delay = policy.delay(attempt, outcome.retry_after)
        if outcome.status == "pending_approval":
            raise PendingApprovalConflict(
                f"{what}: the agent has a pending approval",
                status=outcome.status,
                status_code=409,
                attempts=attempt,
                server=self.server,
            ) from error
        after_delay = time.monotonic() + delay
        if self._refused_at_start(outcome) and (
            attempt >= policy.max_attempts or after_delay - started > UNREACHABLE_AT_START
        ):
            raise self._unreachable(what, attempt)
        if (
            not outcome.retry
            or attempt >= policy.max_attempts
            or after_delay > started + policy.deadline
        ):
            raise LettaRequestFailed(
                f"{what} failed after {attempt} attempt(s): {type(error).__name__}: {error}",
                status=outcome.status,
                status_code=outcome.status_code,
                attempts=attempt,
                server=self.server,
            ) from error
        return delay

    def _refused_at_start(self, last: _Attempt | None) -> bool:
        """The last attempt's connection was refused, and the server has never answered."""
        return (
            not self.reached
            and last is not None
            and last.status == "connection_error"
            and not last.ambiguous
        )

    def _unreachable(self, what: str, attempts: int) -> LettaRequestFailed:
        error = LettaRequestFailed(
            f"{what}: the Letta server at {self.server} refused {attempts} connection(s) in a "
            "row: start it, or set base_url to the address of a running server",
            status="unreachable",
            attempts=attempts,
            server=self.server,
        )
        error.__suppress_context__ = True  # one line, not a chain of the HTTP client's errors
        return error

    async def _attempt(
        self, op: Callable[[AsyncLetta], Awaitable[T]], stats: LettaStats | None
    ) -> T:
        if self.rate is not None:
            await self.rate.acquire()
        async with self.limiter:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            began = time.perf_counter()
            try:
                # A safety net over the HTTP timeouts (which apply per read, not per request).
                limit = self.config.request_timeout + self.config.connect_timeout
                with anyio.fail_after(limit):
                    result = await op(self.client)
            except TimeoutError as exc:
                raise APITimeoutError(request=httpx.Request("POST", self.server)) from exc
            finally:
                self.in_flight -= 1
                if stats is not None:
                    stats.duration.observe(time.perf_counter() - began)
        if stats is not None:
            stats.requests["ok"] += 1
        return result
