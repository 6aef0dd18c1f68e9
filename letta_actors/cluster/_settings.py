"""Cluster settings: where NATS is, who this node is, credentials by variable name, leases, TLS.

Validation refuses, with a message naming the field: a non-loopback URL without credentials
(unless ``allow_insecure_remote``), credentials written into the URL, a lease renewal interval
that does not fit twice in the TTL. Secrets never appear in the settings: only the NAMES of the
environment variables holding them; :meth:`ClusterSettings.credentials` reads them at connect
time and names a missing variable in its error.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._net import is_loopback
from ._errors import ClusterConfigError

#: Node names and bucket prefixes are used in NATS key-value keys and stream names.
_NAME = r"^[A-Za-z0-9_-]{1,64}$"
_SCHEMES = {"nats", "tls", "ws", "wss"}


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

    nats_url: str = "nats://127.0.0.1:4222"
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
    #: Prefix of the key-value buckets (``<prefix>_leases``, ``<prefix>_nodes``), the stream
    #: ``<prefix>_mailboxes`` and the subjects ``<prefix>.tell|ask|mbox.<actor>``.
    bucket_prefix: str = Field(default="letta_actors", pattern=_NAME)

    @property
    def host(self) -> str:
        """The URL's host name (without brackets for IPv6)."""
        return urlsplit(self.nats_url).hostname or ""

    @property
    def is_loopback(self) -> bool:
        """Whether the URL points at this machine (``localhost`` or a loopback address)."""
        return is_loopback(self.host)

    @property
    def has_credentials(self) -> bool:
        """Whether some kind of credentials is configured."""
        return any((self.user_env, self.token_env, self.creds_file_env))

    @model_validator(mode="after")
    def _check(self) -> Self:
        parts = urlsplit(self.nats_url)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise ValueError(
                f"nats_url {self.nats_url!r} must look like nats://host:port "
                f"(schemes: {', '.join(sorted(_SCHEMES))})"
            )
        if parts.username or parts.password:
            raise ValueError(
                "nats_url must not carry credentials: put them in environment variables "
                "and name those in user_env/password_env, token_env or creds_file_env"
            )
        if self.tls is not None and parts.scheme not in ("tls", "wss"):
            raise ValueError(
                f"tls options are set but nats_url {self.nats_url!r} is not tls:// or wss://"
            )
        if (self.user_env is None) != (self.password_env is None):
            raise ValueError("user_env and password_env go together")
        kinds = sum(x is not None for x in (self.user_env, self.token_env, self.creds_file_env))
        if kinds > 1:
            raise ValueError("choose one kind of credentials: user/password, token or creds file")
        if not self.is_loopback and not self.has_credentials and not self.allow_insecure_remote:
            raise ValueError(
                f"nats_url {self.nats_url!r} is not on loopback and no credentials are "
                "configured: set user_env + password_env, token_env or creds_file_env (names "
                "of environment variables), or allow_insecure_remote = true"
            )
        return self

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
