"""What travels between nodes: subjects, envelope ids, envelopes and ask replies as bytes.

- **Subjects** (``<prefix>`` is the settings' ``bucket_prefix``): ``<prefix>.tell.<actor>``
  (non-durable tells, NATS core), ``<prefix>.ask.<actor>`` (asks, NATS request/reply) and
  ``<prefix>.mbox.<actor>`` (durable tells, the JetStream stream ``<prefix>_mailboxes``). An
  actor name that is not a plain token is written ``b64_`` + its URL-safe base64.
- **Ids.** An envelope's id on the wire is a string unique in the cluster: the sender's
  ``message_id`` when it gave one, else ``<node>.<boot>.<n>`` (``boot`` is random per start of
  the node, ``n`` the system's counter). The receiving envelope keeps that id, so a Letta agent
  sends it as the ``otid`` and JetStream's duplicate window drops a resend of it.
- **Envelopes** are the durable store's JSON records (non-durable tells to one actor may travel
  several in one message, as a JSON array of records) (:class:`~letta_actors.durable.Codec`):
  payloads are plain JSON or registered pydantic models; anything else is refused at the send
  with ``TypeError``. The attempt number and an ask's remaining timeout travel in the record;
  a durable tell also carries its id as the ``Nats-Msg-Id`` header (JetStream's dedupe).
- **Replies** are ``{"ok": value}`` or ``{"error": {"type": ..., "message": ...}}``: the
  runtime's own errors come back as themselves, a handler's exception as :class:`RemoteError`.
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
from typing import Any

import orjson

from ..actors import Envelope
from ..durable import Codec, DecodeError
from ..errors import ActorNotFound, ActorStopped, MailboxFull
from ._errors import RemoteError

_PLAIN = re.compile(r"^[A-Za-z0-9_-]+$")
MSG_ID = "Nats-Msg-Id"


@functools.cache
def token(name: str) -> str:
    """``name`` as one subject token (also a valid consumer name)."""
    if _PLAIN.match(name):
        return name
    return "b64_" + base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def boot_id() -> str:
    """A random id for one start of a node (keeps ids unique across restarts)."""
    return secrets.token_hex(4)


class Subjects:
    """The subjects and stream of one cluster (one ``bucket_prefix``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.stream = f"{prefix}_mailboxes"

    def tell(self, actor: str) -> str:
        return f"{self.prefix}.tell.{token(actor)}"

    def ask(self, actor: str) -> str:
        return f"{self.prefix}.ask.{token(actor)}"

    def mailbox(self, actor: str) -> str:
        return f"{self.prefix}.mbox.{token(actor)}"

    @property
    def mailboxes(self) -> str:
        return f"{self.prefix}.mbox.>"


class Wire:
    """Encodes envelopes and replies for one node (ids made unique with ``node`` + ``boot``)."""

    def __init__(self, node: str, codec: Codec | None = None) -> None:
        #: Random per start of this node: names made here never collide with an earlier start's.
        self.boot = boot_id()
        self.origin = f"{node}.{self.boot}."
        self.codec = codec if codec is not None else Codec()

    def wire_id(self, envelope: Envelope) -> str:
        """The envelope's cluster-wide id, set on it (see the module docstring)."""
        ident = envelope.id
        if not isinstance(ident, str):
            ident = envelope.id = f"{self.origin}{ident}"
        return ident

    def envelope(self, envelope: Envelope, timeout: float | None = None) -> bytes:
        """``envelope`` as bytes (with an ask's ``timeout``, seconds the asker still waits);
        ``TypeError`` for a payload that cannot go."""
        self.wire_id(envelope)
        record = self.codec.record(envelope)
        if timeout is not None:
            record["timeout"] = timeout
        return orjson.dumps(record)

    def open(self, data: bytes) -> tuple[Envelope, float | None]:
        """The envelope in ``data`` and its ask's timeout, if any (raises
        :class:`~letta_actors.durable.DecodeError`)."""
        try:
            record = orjson.loads(data)
            timeout = record.pop("timeout", None)
        except (ValueError, AttributeError, TypeError) as exc:
            raise DecodeError(f"a message cannot be read: {exc}") from exc
        return self.codec.envelope(record), timeout

    def open_tells(self, data: bytes) -> tuple[list[Envelope], list[DecodeError]]:
        """The envelopes of a batch of tells (a JSON array of records, or one record), and an
        error for each one that cannot be read."""
        try:
            body = orjson.loads(data)
        except ValueError as exc:
            return [], [DecodeError(f"a message cannot be read: {exc}")]
        envelopes: list[Envelope] = []
        errors: list[DecodeError] = []
        envelope = self.codec.envelope
        for record in body if isinstance(body, list) else (body,):
            try:
                envelopes.append(envelope(record))  # DecodeError for anything but a record
            except DecodeError as exc:
                errors.append(exc)
        return envelopes, errors

    def reply(self, actor: str, value: Any = None, error: BaseException | None = None) -> bytes:
        """An ask's answer; a value that cannot travel becomes an error answer."""
        if error is None:
            try:
                return orjson.dumps({"ok": self.codec.dump(value, actor, "reply")})
            except TypeError as exc:
                error = exc
        kind = type(error).__name__
        return orjson.dumps({"error": {"type": kind, "message": str(error)}})

    def answer(self, actor: str, data: bytes) -> Any:
        """The value of a reply made by :meth:`reply`, or raise its error."""
        try:
            body = orjson.loads(data)
            if "ok" in body:
                return self.codec.load(body["ok"])
            kind, message = body["error"]["type"], body["error"]["message"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DecodeError(f"a reply from {actor} cannot be read: {exc}") from exc
        raise _error(actor, kind, message)


class Moved(Exception):
    """The answer of a node that no longer serves the actor (handed over or lost while the
    ask was queued there): the asker sends it again, to the new owner."""


MOVED = "Moved"


def _error(actor: str, kind: str, message: str) -> Exception:
    """The runtime's own errors come back as themselves; anything else as RemoteError."""
    if kind == MOVED:
        return Moved(message)
    if kind == "ActorNotFound":
        return ActorNotFound(actor)
    if kind == "ActorStopped":
        return ActorStopped(actor, "stopped on its node")
    if kind == "MailboxFull":
        return MailboxFull(actor, 0)
    return RemoteError(actor, kind, message)
