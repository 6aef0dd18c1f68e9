"""Text views of a team file for ``letta-actors check``: the team, its supervision tree,
its link graph, its topics and workflows."""

from __future__ import annotations

from ..team import NODE_ENV, LettaAgentConfig, PythonAgentConfig, TeamConfig

ROOT = "root"


def _agent_line(name: str, config: TeamConfig) -> str:
    agent = config.agents[name]
    if isinstance(agent, LettaAgentConfig):
        what = f"letta, model {config.letta_spec(name).model or '(server default)'}"
    else:
        assert isinstance(agent, PythonAgentConfig)
        what = f"python {agent.factory}"
    box = agent.mailbox
    return f"{name} ({what}; mailbox {box.capacity} {box.overflow}; {agent.restart})"


def tree(config: TeamConfig) -> list[str]:
    """The supervision tree, children in start order."""
    lines: list[str] = []

    def walk(supervisor: str, settings: str, depth: int) -> None:
        lines.append(f"{'  ' * depth}{supervisor} [{settings}]")
        for name, sup in config.supervisors.items():
            if sup.parent == supervisor:
                i = sup.intensity
                walk(name, f"{sup.strategy}, {i.max_restarts} in {i.period:g} s", depth + 1)
        for name, agent in config.agents.items():
            if agent.supervisor == supervisor:
                lines.append(f"{'  ' * (depth + 1)}{_agent_line(name, config)}")

    root = config.supervision
    walk(ROOT, f"{root.strategy}, {root.intensity.max_restarts} in {root.intensity.period:g} s", 0)
    return lines


def link_graph(config: TeamConfig) -> list[str]:
    """Who may message whom, one line per agent with links (``a -> b, c``)."""
    out: dict[str, set[str]] = {}
    for link in config.links:
        out.setdefault(link.source, set()).add(link.target)
        if link.both_ways:
            out.setdefault(link.target, set()).add(link.source)
    return [f"{a} -> {', '.join(sorted(b))}" for a, b in out.items()]


def cluster(config: TeamConfig) -> list[str]:
    """The ``[cluster]`` settings (secrets are never in them: only their variables' names),
    and which agents have durable mailboxes; nothing outside cluster mode."""
    if config.cluster is None:
        return []
    section = config.cluster
    settings = section.settings(section.node or "-", env={})
    if section.node:
        node = f"{section.node} (from the file; --node or ${NODE_ENV} override it)"
    else:
        node = f"given at start: --node NAME or ${NODE_ENV}"
    if settings.user_env:
        credentials = f"user from ${settings.user_env}, password from ${settings.password_env}"
    elif settings.token_env:
        credentials = f"token from ${settings.token_env}"
    elif settings.creds_file_env:
        credentials = f"creds file from ${settings.creds_file_env}"
    else:
        insecure = settings.allow_insecure_remote
        credentials = "none (allow_insecure_remote)" if insecure else "none"
    leases = settings.leases
    tls = settings.tls
    several = len(settings.nats_urls) > 1
    order = f" (tried in {settings.nats_url_order} order)" if several else ""
    durable = [name for name in config.agents if config.durable(name)]
    return [
        "",
        "cluster:",
        f"  nats_url: {', '.join(settings.nats_urls)}{order}",
        f"  node: {node}",
        f"  credentials: {credentials}",
        "  tls: " + ("none" if tls is None else tls.model_dump_json(exclude_none=True)),
        f"  leases: ttl {leases.ttl:g} s, renewed every {leases.renew_every:g} s, "
        f"margin {leases.safety:g} s",
        f"  connect_timeout {settings.connect_timeout:g} s, reconnect_wait "
        f"{settings.reconnect_wait:g} s, buckets {settings.bucket_prefix}_*",
        f"  durable mailboxes (JetStream): {', '.join(durable) or '(none)'}",
    ]


def describe(config: TeamConfig) -> str:
    """Everything ``check`` prints for a valid file."""
    enforced = "enforced" if config.team.enforce_links else "not enforced"
    lines = [f"team {config.team.name!r}: {len(config.agents)} agents", "", "supervision tree:"]
    lines += [f"  {line}" for line in tree(config)]
    lines += ["", f"links ({enforced}):"]
    lines += [f"  {line}" for line in link_graph(config)] or ["  (none)"]
    topics = {t: list(n) for t, n in config.topics.items()}
    for name, agent in config.agents.items():
        for topic in agent.subscribe:
            topics.setdefault(topic, []).append(name)
    lines += ["", "topics:"]
    lines += [f"  {t}: {', '.join(n)}" for t, n in topics.items()] or ["  (none)"]
    lines += ["", "workflows:"]
    for name, flow in config.workflows.items():
        joint = " -> " if flow.kind == "pipeline" else ", "
        lines.append(f"  {name} ({flow.kind}): {joint.join(flow.actors())}")
    if not config.workflows:
        lines.append("  (none)")
    api = config.api
    auth = f"bearer token from ${api.token_env}" + ("" if api.loopback else " (required)")
    lines += ["", f"api: {api.host}:{api.port} ({auth})" if api.enabled else "api: disabled"]
    if config.letta_agents():
        lines.append(f"letta: {config.letta.base_url}")
    lines += cluster(config)
    return "\n".join(lines)
