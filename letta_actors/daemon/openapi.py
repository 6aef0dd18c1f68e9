"""The API's OpenAPI schema, completed: the answers FastAPI cannot see (those of the middleware
and of Starlette, in the error shape), the bearer scheme, the event streams, the bound on an
ask's ``timeout``, and the declared agent and workflow names."""

from __future__ import annotations

from typing import Any

from ..team import TeamConfig
from .middleware import OPEN_PATHS

_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}


def _event_schema(*events: str) -> dict[str, Any]:
    """The schema of one server-sent event named one of ``events``, with JSON data (OpenAPI
    3.1: the schema of a ``text/event-stream`` answer is per event)."""
    return {
        "type": "object",
        "properties": {
            "event": {"type": "string", "enum": list(events)},
            "data": {"type": "string", "contentMediaType": "application/json"},
        },
        "required": ["event", "data"],
    }


def complete_schema(schema: dict[str, Any], token: bool, config: TeamConfig) -> dict[str, Any]:
    """Declare in ``schema`` the answers the middleware and Starlette give (400, 401, 408,
    413, 422, 503, in the error shape), the bearer scheme, the event stream, the bound on an
    ask's ``timeout``, and the declared agent and workflow names."""
    error = {"content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    timeout = schema["components"]["schemas"]["AskRequest"]["properties"]["timeout"]
    for option in timeout["anyOf"]:
        if option.get("type") == "number":
            option["maximum"] = config.api.max_ask_timeout
    names = {"agent": list(config.agents), "workflow": list(config.workflows)}
    if token:
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "path" and names.get(parameter["name"]):
                    parameter["schema"]["enum"] = names[parameter["name"]]
            responses = operation["responses"]
            extra: dict[str, str] = {}
            if path not in OPEN_PATHS:
                extra["503"] = "Too many requests in progress, mailbox full, or stopping"
                if token:
                    extra["401"] = "Missing or wrong bearer token"
                    operation["security"] = [{"bearer": []}]
            if method == "post":
                extra |= {
                    "400": "The body could not be parsed",
                    "408": "The body did not arrive in time",
                    "413": "The body is too large",
                    "422": "Invalid request",
                }
            for status, description in extra.items():
                responses.setdefault(status, {"description": description, **error})
            if "422" in responses:
                responses["422"] = {"description": "Invalid request", **error}
            if "{run_id}" in path:
                responses.setdefault("404", {"description": "Unknown run", **error})
            if path.endswith("/events"):
                responses["200"] = {
                    "description": "Server-sent events: progress, then the record",
                    "content": {
                        "text/event-stream": {"schema": _event_schema("progress", "record")}
                    },
                }
            elif path.endswith("/live"):  # the console's run stream
                responses["200"] = {
                    "description": "Server-sent events: the run as it grows, until it ends",
                    "content": {"text/event-stream": {"schema": _event_schema("run", "tick")}},
                }
    return schema
