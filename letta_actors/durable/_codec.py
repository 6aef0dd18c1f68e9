"""How envelopes are written to a durable store: JSON, with pydantic models by registered name.

A payload is stored as it is when it is plain JSON (``None``, ``bool``, ``int``, ``float``,
``str``, and lists and string-keyed dicts of those), or as a registered pydantic model (its
``model_dump(mode="json")`` under the name it was registered with). Anything else would come
back different or not at all (a tuple as a list, an int key as a string, an object as nothing),
so :meth:`Codec.encode` refuses it with a ``TypeError`` naming what and where.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from ..actors import Envelope


class DecodeError(ValueError):
    """A stored envelope cannot be read back (unknown model name, invalid data)."""


class Codec:
    """Encodes envelopes to JSON bytes and back; models are registered per codec (no global
    registry: two stores may name different models alike)."""

    def __init__(self, models: tuple[type[BaseModel], ...] | list[type[BaseModel]] = ()) -> None:
        self._by_name: dict[str, type[BaseModel]] = {}
        self._names: dict[type[BaseModel], str] = {}
        for model in models:
            self.register(model)

    def register(self, model: type[BaseModel], name: str | None = None) -> None:
        """Let payloads of ``model`` be stored, under ``name`` (default ``module:QualName``).

        A name is what a stored message is read back by: keep it when you move the class.
        Raises ``TypeError`` for a non-model, ``ValueError`` for a name taken by another model.
        """
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"only pydantic models can be registered, got {model!r}")
        name = name if name is not None else f"{model.__module__}:{model.__qualname__}"
        if not isinstance(name, str) or not name:
            raise TypeError(f"a model's name must be a non-empty string, got {name!r}")
        taken = self._by_name.get(name)
        if taken is not None and taken is not model:
            raise ValueError(f"model name {name!r} is already registered for {taken!r}")
        self._by_name[name] = model
        self._names[model] = name

    def dump(self, value: Any, recipient: str, where: str = "message") -> Any:
        """``value`` as JSON-ready data: as it is when plain JSON, else a registered model under
        its name; ``TypeError`` (naming ``where`` and ``recipient``) for anything else."""
        name = self._names.get(type(value)) if isinstance(value, BaseModel) else None
        if name is not None:
            return {"model": name, "data": value.model_dump(mode="json")}
        if isinstance(value, BaseModel):
            raise TypeError(
                f"{where} to {recipient!r}: {type(value).__qualname__} is not registered with "
                f"the codec (codec.register({type(value).__qualname__}))"
            )
        _check_json(value, recipient, where)
        return {"json": value}

    def load(self, body: Any) -> Any:
        """The value :meth:`dump` made ``body`` of; ``KeyError`` for an unknown model name,
        ``pydantic.ValidationError`` for invalid model data."""
        if "model" not in body:
            return body["json"]
        model = self._by_name.get(body["model"])
        if model is None:
            raise KeyError(f"model {body['model']!r} is not registered")
        return model.model_validate(body["data"])

    def record(self, envelope: Envelope) -> dict[str, Any]:
        """The envelope as a JSON-ready dict; ``TypeError`` if its payload cannot go as is."""
        return {
            "id": envelope.id,
            "recipient": envelope.recipient,
            "sender": envelope.sender,
            "sent_at": envelope.sent_at,
            "topic": envelope.topic,
            "trace": envelope.trace,
            "chain": envelope.chain,
            "attempt": envelope.attempt,
            "payload": self.dump(envelope.payload, envelope.recipient),
        }

    def envelope(self, record: dict[str, Any]) -> Envelope:
        """The envelope :meth:`record` made ``record`` of; raises :class:`DecodeError`."""
        try:
            return Envelope(
                record["id"],
                record["recipient"],
                self.load(record["payload"]),
                record["sent_at"],
                record["sender"],
                record["topic"],
                chain=tuple(record.get("chain", ())),
                attempt=record.get("attempt", 1),
                trace=record["trace"],
            )
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise DecodeError(f"a stored message cannot be read: {exc}") from exc

    def encode(self, envelope: Envelope) -> bytes:
        """The envelope's stored form (:meth:`record` as JSON)."""
        return json.dumps(self.record(envelope), separators=(",", ":")).encode()

    def decode(self, data: bytes) -> Envelope:
        """The envelope stored as ``data``; raises :class:`DecodeError`."""
        try:
            record = json.loads(data)
        except ValueError as exc:
            raise DecodeError(f"a stored message cannot be read: {exc}") from exc
        if not isinstance(record, dict):
            raise DecodeError(f"a stored message cannot be read: {record!r} is not a record")
        return self.envelope(record)


_SCALARS = (str, int, float, bool, type(None))


def _check_json(value: Any, recipient: str, where: str) -> None:
    """``TypeError`` unless ``value`` is plain JSON (exact types: a subclass may not survive)."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is list:
        for index, item in enumerate(value):
            _check_json(item, recipient, f"{where}[{index}]")
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(
                    f"message to {recipient!r} cannot be stored: {where} has a "
                    f"{type(key).__name__} key {key!r} (JSON keys are strings)"
                )
            _check_json(item, recipient, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"message to {recipient!r} cannot be stored: {where} has type {kind.__qualname__}; a "
        f"message that crosses a process takes JSON values (str, int, float, bool, None, "
        f"list, dict with str keys) and registered pydantic models"
    )
