"""Reading a team file: TOML, validated by :class:`TeamConfig`, every error reported at once.

Errors name the file, the field path (``agents.writer.mailbox.capacity``) and what is wrong.
Schema errors and cross-reference errors (a link to an undeclared agent, a stage naming an
unknown actor...) are collected together, so one ``check`` shows everything to fix.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .config import TeamConfig

ROOT = "root"
_SECRET = re.compile(r"(api_key|apikey|token|password|secret)$", re.IGNORECASE)
_KINDS = {"letta", "python", "pipeline", "fan_out"}


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem: where (a dotted field path, ``""`` for the whole file) and what."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(Exception):
    """A team file that cannot be used; ``issues`` lists every problem found."""

    def __init__(self, path: Path | str, issues: list[ConfigIssue]) -> None:
        self.path = str(path)
        self.issues = issues
        lines = [f"{self.path}: {len(issues)} error{'s' if len(issues) != 1 else ''}"]
        lines += [f"{self.path}: {issue}" for issue in issues]
        super().__init__("\n".join(lines))


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for index, item in enumerate(loc):
        # A discriminated union adds the tag ("letta", "pipeline"...) after the table name.
        if index == 2 and loc[0] in ("agents", "workflows") and item in _KINDS:
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _message(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    value = error.get("input")
    if error["type"] not in ("union_tag_invalid", "union_tag_not_found") and isinstance(
        value, str | int | float | bool
    ):
        message += f" (got {value!r})"
    return message


def schema_issues(error: ValidationError) -> list[ConfigIssue]:
    return [ConfigIssue(_location(e["loc"]), _message(e)) for e in error.errors()]


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def secret_issues(data: Any, location: str = "") -> list[ConfigIssue]:
    """Keys that look like secrets (``api_key``, ``token``...): never written in the file."""
    issues: list[ConfigIssue] = []
    items = data.items() if isinstance(data, dict) else ()
    for key, value in items:
        where = f"{location}.{key}" if location else str(key)
        if isinstance(key, str) and _SECRET.search(key):
            issues.append(
                ConfigIssue(
                    where,
                    "secrets are never written in the file; name the "
                    f"environment variable that holds it ({key}_env)",
                )
            )
        else:
            issues += secret_issues(value, where)
    return issues


def reference_issues(data: dict[str, Any]) -> list[ConfigIssue]:
    """Names used but not declared, checked on the raw data (so they are found even when
    other parts of the file are invalid)."""
    issues: list[ConfigIssue] = []
    agents = set(_table(data, "agents"))
    supervisors: list[str] = list(_table(data, "supervisors"))

    def need(known: set[str] | list[str], name: Any, where: str, what: str) -> None:
        if isinstance(name, str) and name not in known:
            issues.append(ConfigIssue(where, f"unknown {what} {name!r}"))

    issues.extend(
        ConfigIssue(f"agents.{name}", "name already used by a supervisor")
        for name in sorted(agents & {*supervisors, ROOT})
    )
    for index, name in enumerate(supervisors):
        spec = _table(data, "supervisors")[name]
        if isinstance(spec, dict):
            earlier = [ROOT, *supervisors[:index]]
            need(
                earlier,
                spec.get("parent", ROOT),
                f"supervisors.{name}.parent",
                "supervisor (a parent must be declared before its children)",
            )
    for name, agent in _table(data, "agents").items():
        if isinstance(agent, dict):
            need(
                [ROOT, *supervisors],
                agent.get("supervisor", ROOT),
                f"agents.{name}.supervisor",
                "supervisor",
            )
    links = data.get("links")
    for index, link in enumerate(links if isinstance(links, list) else []):
        if isinstance(link, dict):
            for end in ("from", "to"):
                need(agents, link.get(end), f"links[{index}].{end}", "agent")
    for topic, names in _table(data, "topics").items():
        for index, name in enumerate(names if isinstance(names, list) else []):
            need(agents, name, f"topics.{topic}[{index}]", "agent")
    for name, flow in _table(data, "workflows").items():
        if not isinstance(flow, dict):
            continue
        for key, field in (("stages", "actor"), ("tasks", "agent")):
            items = flow.get(key)
            for index, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, dict):
                    need(
                        agents, item.get(field), f"workflows.{name}.{key}[{index}].{field}", "agent"
                    )
    return issues


def parse_config(text: str, path: Path | str = "<string>") -> TeamConfig:
    """Validate TOML text; raises :class:`ConfigError` listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [ConfigIssue("", f"invalid TOML: {exc}")]) from None
    secrets = secret_issues(data)
    issues = secrets + reference_issues(data)
    try:
        config = TeamConfig.model_validate(data)
    except ValidationError as exc:
        flagged = {issue.location for issue in secrets}
        schema = [i for i in schema_issues(exc) if i.location not in flagged]
        issues = schema + issues
        config = None
    if issues or config is None:
        raise ConfigError(path, issues)
    return config


def load_config(path: Path | str) -> TeamConfig:
    """Read and validate a team file; raises :class:`ConfigError` (also for a missing file)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [ConfigIssue("", f"cannot read the file: {exc}")]) from None
    return parse_config(text, file)
