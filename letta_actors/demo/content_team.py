"""The content team of the demo and the examples: an editor-in-chief and three specialists.

One definition serves the Python example (``examples/content_team.py``), the daemon demo
(``python -m letta_actors.demo``) and its team file; on the local stack, :func:`scripted_rules`
tells the scripted LLM what each agent says, keyed on the marker in each agent's system prompt.
"""

from __future__ import annotations

import json

from ..localstack.rules import Rule, TextReply, ToolCall, ToolCallsReply
from ..patterns import DELEGATE

#: The specialists: role -> (description shown to the chief, persona).
ROLES: dict[str, tuple[str, str]] = {
    "researcher": (
        "Researches a topic: gathers key facts, figures and angles, as short bullet notes.",
        "A meticulous researcher who answers with concise, factual bullet notes.",
    ),
    "writer": (
        "Writes a first draft (about 150 words) on a topic for a general audience.",
        "A clear, lively writer of short articles.",
    ),
    "editor": (
        "Edits a draft against research notes: fixes facts, tightens prose, returns the "
        "final text.",
        "A careful editor who returns only the improved text.",
    ),
}
CHIEF_SYSTEM = (
    "You are the editor-in-chief of a small content team. For every request: first use the "
    "`delegate` tool ONCE with two tasks, research for the researcher and a first draft for "
    "the writer; then delegate the editing to the editor, giving it the draft and the notes "
    "(specialists do not see your conversation); then answer with the final article."
)
CHIEF_DESCRIPTION = "Runs the content team."
CHIEF_PERSONA = "An experienced editor-in-chief."


def marker(token: str, role: str) -> str:
    """What each agent's system prompt carries, so scripted rules find the right agent."""
    return f"[content-team {token}:{role}]"


def system_prompt(token: str, role: str) -> str:
    if role == "chief":
        return f"{CHIEF_SYSTEM}\n{marker(token, role)}"
    return f"You are the {role} of a content team. {ROLES[role][1]}\n{marker(token, role)}"


def scripted_rules(token: str) -> list[Rule]:
    """Local stack only: the chief delegates research and draft at once, then the editing,
    then answers; each specialist answers in character."""

    def delegate(plan: str, *pairs: tuple[str, str]) -> ToolCallsReply:
        items = [{"specialist": s, "task": t} for s, t in pairs]
        return ToolCallsReply(
            calls=[ToolCall(name=DELEGATE, arguments={"delegations": items, "plan": plan})]
        )

    def who(role: str) -> str:
        return marker(token, role)

    return [
        Rule(
            name="chief-plans",
            system_contains=who("chief"),
            last_role="user",
            reply=delegate(
                "research and draft in parallel, then edit",
                ("researcher", "Gather key facts about: {last_message}"),
                ("writer", "Write a ~150-word first draft about: {last_message}"),
            ),
        ),
        Rule(
            name="chief-synthesises",
            system_contains=who("chief"),
            last_role="tool",
            last_message_contains="Edited:",
            reply=TextReply(
                text="Final article, researched, drafted and edited: {last_message_text}"
            ),
        ),
        Rule(
            name="chief-sends-to-editor",
            system_contains=who("chief"),
            last_role="tool",
            reply=delegate(
                "the editor merges the notes into the draft",
                ("editor", "Edit the draft against the notes: {last_message_text}"),
            ),
        ),
        Rule(
            name="researcher",
            system_contains=who("researcher"),
            latency_seconds=0.5,
            reply=TextReply(
                text="Notes: sea otters hold hands while sleeping; they have the densest fur "
                "of any animal; they use rocks as tools."
            ),
        ),
        Rule(
            name="writer",
            system_contains=who("writer"),
            latency_seconds=0.5,
            reply=TextReply(
                text="Draft: Otters are playful, clever swimmers that keep warm with thick fur "
                "and crack shellfish with stones."
            ),
        ),
        Rule(
            name="editor",
            system_contains=who("editor"),
            reply=TextReply(
                text="Edited: Otters, the ocean's engineers, crack shellfish on rocks, stay warm "
                "in the densest fur on Earth, and hold hands as they sleep."
            ),
        ),
    ]


def team_toml(*, team: str, token: str, base_url: str, model: str, embedding: str) -> str:
    """The daemon's team file for the content team (an ``orchestrator`` workflow ``article``)."""
    q = json.dumps  # TOML basic strings accept JSON's escapes

    def agent(role: str, description: str, persona: str, extra: str = "") -> str:
        return (
            f"[agents.{role}]\nsystem = {q(system_prompt(token, role))}\n"
            f"description = {q(description)}\npersona = {q(persona)}\n"
            f"tags = [{q(token)}]\n{extra}"
        )

    agents = [agent("chief", CHIEF_DESCRIPTION, CHIEF_PERSONA,
                    'role = "orchestrator"\noptions = { tool_timeout = 400 }\n')]  # fmt: skip
    agents += [agent(role, description, persona) for role, (description, persona) in ROLES.items()]
    specialists = ", ".join(q(role) for role in ROLES)
    return f"""# The demo's content team (written by python -m letta_actors.demo).
[team]
name = {q(team)}
enforce_links = true
ask_timeout = 600
shutdown_timeout = 60

[letta]
base_url = {q(base_url)}
model = {q(model)}
embedding = {q(embedding)}
max_in_flight = 4

{chr(10).join(agents)}
[workflows.article]
kind = "orchestrator"
description = "the chief delegates research and a draft, then the editing, and answers"
orchestrator = "chief"
specialists = [{specialists}]
max_rounds = 3
max_delegations = 6
delegation_timeout = 300
timeout = 900

[api]
host = "127.0.0.1"
port = 0
"""
