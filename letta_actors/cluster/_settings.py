"""Cluster settings: where NATS is, who this node is, credentials by variable name, leases, TLS.

``nats_url`` is one URL or several (the servers of a NATS cluster): a list, or one string with
commas, as ``NATS_URL`` and the ``nats`` CLI take it. Validation refuses, with a message naming
the field and the offending URL: a URL that is not ``scheme://host[:port]``, credentials written
into a URL, a non-TLS URL with ``tls`` options, servers listed with different schemes or twice,
a non-loopback URL without credentials (unless ``allow_insecure_remote``), a lease renewal
interval that does not fit twice in the TTL. Secrets never appear in the settings: only the
NAMES of the environment variables holding them; :meth:`ClusterSettings.credentials` reads them
at connect time and names a missing variable in its error.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .._net import is_loopback
from ._errors import ClusterConfigError

#: Node names and bucket prefixes are used in NATS key-value keys and stream names.
_NAME = r"^[A-Za-z0-9_-]{1,64}$"
_SCHEMES = {"nats", "tls", "ws", "wss"}


def _split(value: str | Sequence[str]) -> tuple[str, ...]:
    """The URLs of ``nats_url`` as given: a list, or a string with commas between URLs."""
    items = value.split(",") if isinstance(value, str) else value
    urls = tuple(item.strip() for item in items)
    if not urls:
        raise ValueError("nats_url lists no URL: give one, or several (a NATS cluster)")
    if len(urls) > 1 and "" in urls:
        raise ValueError("nats_url has an empty entry (a stray comma?)")
    return urls


def _on_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (``localhost`` or a loopback address)."""
    return is_loopback(urlsplit(url).hostname or "")


def _redacted(parts: SplitResult) -> str:
    """The URL with its credentials replaced by ``***`` (never echo a secret)."""
    return parts._replace(netloc=f"***@{parts.netloc.rpartition('@')[2]}").geturl()


def _check_url(url: str, *, alone: bool) -> SplitResult:
    """One URL's own shape: a known scheme, a host, a numeric port, no credentials. ``alone``:
    the only URL given (its messages stay as they were before lists)."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        shown = "" if alone else f" {_redacted(parts)!r}"
        raise ValueError(
            f"nats_url{shown} must not carry credentials: put them in environment variables "
            "and name those in user_env/password_env, token_env or creds_file_env"
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in _SCHEMES or not parts.hostname or port == -1:
        raise ValueError(
            f"nats_url {url!r} must look like nats://host:port "
            f"(schemes: {', '.join(sorted(_SCHEMES))})"
        )
    return parts


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeaseSettings(_Section):
    """How long a lease lasts and how often its holder renews it (seconds).

    A holder treats its lease as lost once ``ttl - margin`` has passed since the start of its
    last successful renewal (the server forgets it at ``ttl``); ``margin`` absorbs clock drift
    and the time a renewal takes in flight.
    """

    ttl: float = Field(default=10.0, ge=0.5, le=3600.0)
    renew_interval: float | None = Field(default=None, gt=0.0)
    margin: float | None = Field(default=None, ge=0.0)

    @property
    def renew_every(self) -> float:
        """The renewal interval (default: a third of the TTL)."""
        return self.renew_interval if self.renew_interval is not None else self.ttl / 3

    @property
    def safety(self) -> float:
        """The margin (default: a tenth of the TTL)."""
        return self.margin if self.margin is not None else self.ttl / 10

    @property
    def valid_for(self) -> float:
        """How long after a renewal was sent the holder still counts the lease as its own."""
        return self.ttl - self.safety

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if self.renew_every >= self.ttl / 2:
            raise ValueError(
                f"leases.renew_interval ({self.renew_every:g} s) must be less than half of "
                f"leases.ttl ({self.ttl:g} s), so a missed renewal is retried before expiry"
            )
        if self.renew_every >= self.valid_for:
            raise ValueError(
                f"leases.renew_interval ({self.renew_every:g} s) must be less than "
                f"leases.ttl - leases.margin ({self.valid_for:g} s)"
            )
        return self


class TLSSettings(_Section):
    """TLS options passed through to nats-py (files are read when connecting).

    nats-py upgrades to TLS only when the server's greeting asks for it: the connection checks
    that it did and refuses a plaintext one. ``handshake_first`` (the server must be configured
    for it too) starts TLS before anything else, on every reconnection as well.
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    hostname: str | None = None
    handshake_first: bool = False

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls.cert_file and tls.key_file go together")
        return self

    def context(self) -> ssl.SSLContext:
        """An SSL context verifying the server (with ``ca_file`` if given), with the client
        certificate if given."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file is not None and self.key_file is not None:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


class ClusterSettings(_Section):
    """The ``[cluster]`` section: one node of a cluster over NATS JetStream."""

    #: One URL, or the servers of a NATS cluster: a list, or a string with commas. Stored as
    #: given for one URL (a string), as a tuple for several; :attr:`nats_urls` is always the
    #: tuple. nats-py also learns the cluster's other servers from the one it connects to.
    nats_url: str | Sequence[str] = "nats://127.0.0.1:4222"
    #: Which of several URLs a node tries first, at start and on every reconnection: ``random``
    #: (nats-py's default: spreads the nodes over the servers) or ``listed`` (in the order of
    #: ``nats_url``, e.g. the server next to the node first).
    nats_url_order: Literal["random", "listed"] = "random"
    node: str = Field(pattern=_NAME)
    #: Names of environment variables (never the secrets): user + password, or a token, or a
    #: NATS credentials file (JWT + NKey seed).
    user_env: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    creds_file_env: str | None = None
    leases: LeaseSettings = LeaseSettings()
    tls: TLSSettings | None = None
    #: Connect to a non-loopback NATS without credentials anyway.
    allow_insecure_remote: bool = False
    #: Seconds the FIRST connection may take before :class:`ClusterUnreachable`.
    connect_timeout: float = Field(default=5.0, gt=0.0, le=300.0)
    #: Seconds between reconnection attempts after the connection is lost (it retries forever).
    reconnect_wait: float = Field(default=0.5, gt=0.0, le=60.0)
    #: Seconds a send to another node may wait for NATS: storing a durable tell, and one
    #: attempt of an ask before it is sent again (then :class:`ClusterUnavailable` for a tell).
    send_timeout: float = Field(default=5.0, gt=0.0, le=300.0)
    #: Seconds between attempts of an ask to an actor nobody owns right now (a failover).
    retry_interval: float = Field(default=0.05, gt=0.0, le=10.0)
    #: Seconds the mailboxes' stream keeps a durable message (handled or not): one not handled
    #: within this is dropped by JetStream. Default: 7 days.
    mailbox_max_age: float = Field(default=7 * 24 * 3600.0, gt=0.0)
    #: Prefix of the key-value buckets (``<prefix>_leases``, ``<prefix>_nodes``), the stream
    #: ``<prefix>_mailboxes`` and the subjects ``<prefix>.tell|ask|mbox.<actor>``.
    bucket_prefix: str = Field(default="letta_actors", pattern=_NAME)

    @field_validator("nats_url", mode="after")
    @classmethod
    def _normalised(cls, value: str | Sequence[str]) -> str | tuple[str, ...]:
        urls = _split(value)
        return urls[0] if len(urls) == 1 else urls

    @property
    def nats_urls(self) -> tuple[str, ...]:
        """The URLs of ``nats_url`` (one or more), in the order given."""
        return (self.nats_url,) if isinstance(self.nats_url, str) else tuple(self.nats_url)

    @property
    def host(self) -> str:
        """The first URL's host name (without brackets for IPv6)."""
        return urlsplit(self.nats_urls[0]).hostname or ""

    @property
    def is_loopback(self) -> bool:
        """Whether every URL points at this machine (``localhost`` or a loopback address)."""
        return all(map(_on_loopback, self.nats_urls))

    @property
    def has_credentials(self) -> bool:
        """Whether some kind of credentials is configured."""
        return any((self.user_env, self.token_env, self.creds_file_env))

    @model_validator(mode="after")
    def _check(self) -> Self:
        self._check_urls()
        if (self.user_env is None) != (self.password_env is None):
            raise ValueError("user_env and password_env go together")
        kinds = sum(x is not None for x in (self.user_env, self.token_env, self.creds_file_env))
        if kinds > 1:
            raise ValueError("choose one kind of credentials: user/password, token or creds file")
        remote = [url for url in self.nats_urls if not _on_loopback(url)]
        if remote and not self.has_credentials and not self.allow_insecure_remote:
            verb = "is" if len(remote) == 1 else "are"
            raise ValueError(
                f"nats_url {', '.join(map(repr, remote))} {verb} not on loopback and no "
                "credentials are configured: set user_env + password_env, token_env or "
                "creds_file_env (names of environment variables), or allow_insecure_remote = true"
            )
        return self

    def _check_urls(self) -> None:
        """Each URL's shape, then what the list must share: no URL twice, TLS on every one if
        ``tls`` is set, one scheme for all (nats-py refuses websocket and TCP together; a
        ``nats://`` server next to ``tls://`` ones would be a plaintext way in)."""
        urls = self.nats_urls
        schemes = [_check_url(url, alone=len(urls) == 1).scheme for url in urls]
        twice = sorted({url for url in urls if urls.count(url) > 1})
        if twice:
            raise ValueError(f"nats_url lists {', '.join(map(repr, twice))} more than once")
        for url, scheme in zip(urls, schemes, strict=True):
            if self.tls is not None and scheme not in ("tls", "wss"):
                raise ValueError(
                    f"tls options are set but nats_url {url!r} is not tls:// or wss://"
                )
        if len(set(schemes)) > 1:
            raise ValueError(
                f"nats_url mixes schemes ({', '.join(map(repr, urls))}): the servers of one "
                "NATS cluster are reached the same way; list them all as nats://, tls:// (with "
                "[cluster.tls] when they require TLS), ws:// or wss://"
            )

    def credentials(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """nats-py's connect options for the credentials, read from ``environ`` (default:
        ``os.environ``). Raises :class:`ClusterConfigError` naming a variable that is unset."""
        env = os.environ if environ is None else environ

        def read(name: str) -> str:
            value = env.get(name)
            if not value:
                raise ClusterConfigError(
                    f"environment variable {name} (named in the cluster settings) is not set"
                )
            return value

        if self.user_env is not None and self.password_env is not None:
            return {"user": read(self.user_env), "password": read(self.password_env)}
        if self.token_env is not None:
            return {"token": read(self.token_env)}
        if self.creds_file_env is not None:
            path = Path(read(self.creds_file_env))
            if not path.is_file():
                raise ClusterConfigError(
                    f"credentials file {path} (from {self.creds_file_env}) does not exist"
                )
            return {"user_credentials": str(path)}
        return {}
