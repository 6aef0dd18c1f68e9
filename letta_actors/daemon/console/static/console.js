// The letta-actors console: views of the team, its actors, runs and dead letters, fed by the
// daemon's API (every data call carries the bearer token), and forms to ask, tell, run, cancel.

import { ApiError, call, clearToken, getToken, setToken, stream } from "./api.js";

const $ = (selector) => document.querySelector(selector);
const state = { team: null, snapshot: null, live: null, run: null, runId: null, teamText: "" };
const VIEWS = ["team", "actors", "runs", "run", "dead-letters", "act"];
const GOOD = new Set(["running", "completed", "ok", "alive"]);
const BAD = new Set(["failed", "error", "timeout", "timed_out", "stopped", "crashed", "skipped"]);

// -- small DOM helpers (text only: nothing from the API is parsed as HTML) -------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(value) {
  const text = String(value);
  const tone = GOOD.has(text) ? "good" : BAD.has(text) ? "bad" : text === "finished" ? "" : "warn";
  return el("span", { class: `badge ${tone}` }, text);
}

function shorten(value, limit = 300) {
  if (typeof value === "number" && !Number.isInteger(value)) return value.toFixed(3);
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) return "";
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

function clock(epochSeconds) {
  return epochSeconds ? new Date(epochSeconds * 1000).toLocaleTimeString() : "";
}

function fillRows(table, rows) {
  const body = table.tBodies[0];
  const focused = document.activeElement;
  const key = body.contains(focused) ? focused.dataset.key : null;
  body.replaceChildren(...rows);
  if (key) body.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

function emptyRow(columns, text) {
  return el("tr", {}, el("td", { colspan: columns, class: "empty" }, text));
}

function showMessage(target, text, kind = "info") {
  target.replaceChildren(text ? el("p", { class: kind === "error" ? "error" : "note" }, text) : "");
}

// -- Mermaid ------------------------------------------------------------------------------

let renders = Promise.resolve();
let renderCount = 0;

function renderDiagram(container, text) {
  // Renders one at a time (Mermaid keeps global state while it lays out a diagram).
  renders = renders.then(async () => {
    if (!text) {
      container.replaceChildren(el("p", { class: "hint" }, "Nothing to draw yet."));
      return;
    }
    try {
      const { svg } = await window.mermaid.render(`diagram-${++renderCount}`, text);
      container.innerHTML = svg; // Mermaid's own output, sanitized (securityLevel "strict")
      container.dataset.rendered = String(renderCount);
    } catch (exc) {
      container.replaceChildren(el("p", { class: "error" }, `The diagram could not be drawn: ${exc.message || exc}`));
    }
  });
  return renders;
}

function label(text) {
  return `"${String(text).replace(/"/g, "#quot;")}"`;
}

function teamDiagram(team, actors) {
  const ids = new Map();
  const id = (name) => {
    if (!ids.has(name)) ids.set(name, `n${ids.size}`);
    return ids.get(name);
  };
  const lines = ["flowchart TD"];
  const known = actors.length
    ? actors
    : Object.entries(team.agents).map(([name, a]) => ({ name, kind: a.kind, supervisor: a.supervisor || "root", state: "not started" }));
  for (const actor of known) {
    const shape = actor.kind === "supervisor" ? [`[${label(`${actor.name} · supervisor`)}]`] : [`(${label(`${actor.name} · ${actor.kind}`)})`];
    lines.push(`  ${id(actor.name)}${shape[0]}`);
    const cls = actor.kind === "supervisor" ? "supervisor" : actor.state === "running" ? "agent" : "down";
    lines.push(`  class ${id(actor.name)} ${cls}`);
  }
  for (const actor of known) {
    if (actor.supervisor) lines.push(`  ${id(actor.supervisor)} --> ${id(actor.name)}`);
  }
  const drawn = new Set();
  for (const [from, peers] of Object.entries(team.links || {})) {
    for (const to of peers) {
      const pair = [from, to].sort().join("\u0000");
      if (drawn.has(pair)) continue;
      drawn.add(pair);
      const both = (team.links[to] || []).includes(from);
      lines.push(`  ${id(from)} ${both ? "<-. link .->" : "-. link .->"} ${id(to)}`);
    }
  }
  Object.entries(team.topics || {}).forEach(([topic, names], index) => {
    lines.push(`  t${index}{{${label(`topic ${topic}`)}}}`);
    lines.push(`  class t${index} topic`);
    for (const name of names) lines.push(`  t${index} -.-> ${id(name)}`);
  });
  lines.push("  classDef supervisor fill:#e3ebf5,stroke:#12343b,color:#1b1f24");
  lines.push("  classDef agent fill:#ffffff,stroke:#0f5132,color:#1b1f24");
  lines.push("  classDef down fill:#f8d7da,stroke:#842029,color:#1b1f24");
  lines.push("  classDef topic fill:#fff3cd,stroke:#664d03,color:#1b1f24");
  return lines.join("\n");
}

// -- views ----------------------------------------------------------------------------------

function renderTeam() {
  if (!state.team) return;
  const actors = state.snapshot ? state.snapshot.actors : [];
  const text = teamDiagram(state.team, actors);
  if (text !== state.teamText && !$("#view-team").hidden) {
    state.teamText = text;
    renderDiagram($("#team-diagram"), text);
  }
  const rows = Object.entries(state.team.workflows || {}).map(([name, w]) =>
    el("tr", {}, el("td", {}, name), el("td", {}, w.kind), el("td", {}, (w.actors || []).join(", ")), el("td", {}, w.description || "")),
  );
  fillRows($("#workflows"), rows.length ? rows : [emptyRow(4, "No workflows declared.")]);
}

function renderActors() {
  const actors = state.snapshot ? state.snapshot.actors : [];
  const rows = actors.map((a) =>
    el(
      "tr",
      { "data-actor": a.name },
      el("th", { scope: "row" }, a.name),
      el("td", {}, a.kind),
      el("td", {}, a.supervisor || "—"),
      el("td", {}, badge(a.state)),
      el("td", { class: a.mailbox_depth ? "busy num" : "num" }, `${a.mailbox_depth} / ${a.mailbox_capacity}`),
      el("td", { class: "num" }, a.restarts),
      el("td", { class: "num" }, a.processed),
      el("td", { class: "num" }, a.failed),
      el("td", { class: "working" }, a.working_on || "—"),
    ),
  );
  fillRows($("#actors"), rows.length ? rows : [emptyRow(9, "The team has not started.")]);
}

function runLink(run) {
  return el("a", { href: `#run/${run.run_id}`, "data-key": run.run_id }, el("code", {}, run.run_id));
}

function renderRuns() {
  const runs = state.snapshot ? state.snapshot.runs : [];
  const rows = runs.map((r) =>
    el(
      "tr",
      { "data-run": r.run_id },
      el("td", {}, runLink(r)),
      el("td", {}, r.workflow),
      el("td", {}, badge(r.status)),
      el("td", { class: "num" }, `${r.elapsed.toFixed(1)} s`),
      el("td", {}, clock(r.started_at)),
      el("td", {}, r.error || ""),
    ),
  );
  fillRows($("#runs"), rows.length ? rows : [emptyRow(6, "No runs yet: start one under “Ask, tell, run”.")]);
  const running = runs.filter((r) => r.state === "running");
  $("#running-runs").replaceChildren(...running.map((r) => el("option", { value: r.run_id }, r.workflow)));
}

function renderDeadLetters() {
  const dl = state.snapshot ? state.snapshot.dead_letters : { total: 0, totals: {}, letters: [] };
  const totals = Object.entries(dl.totals).map(([reason, n]) => `${reason}: ${n}`).join(", ");
  $("#dl-totals").textContent = dl.total ? `${dl.total} since the start (${totals}); the newest first.` : "None: every message was delivered and handled.";
  const rows = dl.letters.map((d) =>
    el("tr", {}, el("td", {}, clock(d.at)), el("td", {}, d.recipient), el("td", {}, d.sender || "—"), el("td", {}, badge(d.reason)), el("td", {}, d.error || ""), el("td", {}, d.message)),
  );
  fillRows($("#dead-letters"), rows.length ? rows : [emptyRow(6, "No dead letters.")]);
}

function fillForms() {
  if (!state.team) return;
  const agents = Object.keys(state.team.agents);
  const workflows = Object.keys(state.team.workflows || {});
  const keep = (select, names) => {
    const current = select.value;
    select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
    if (names.includes(current)) select.value = current;
  };
  keep($("#message-agent"), agents);
  keep($("#run-workflow"), workflows);
  $("#run-start").disabled = workflows.length === 0;
}

// -- one run ------------------------------------------------------------------------------

const PARTS = [
  ["plan", "Plan (the orchestrator's delegate calls)"],
  ["delegations", "Delegations"],
  ["stages", "Stages"],
  ["results", "Tasks"],
  ["votes", "Votes"],
  ["rounds", "Vote rounds"],
  ["changed", "Votes changed"],
  ["handoffs", "Handoffs"],
  ["refused", "Refused handoffs"],
  ["turns", "Agent turns"],
];
const RESULT_FIELDS = ["answer", "output", "reply", "answered_by", "decision", "unanimous", "counts", "reasoning", "errors", "error"];

// Columns of a run's parts not worth a person's attention.
const HIDDEN_COLUMNS = new Set(["tool_call_id"]);

function cell(key, value) {
  if (value == null) return "";
  if (key === "status") return badge(value);
  if (typeof value === "object" && "prompt_tokens" in value) return `${value.prompt_tokens + value.completion_tokens} tokens`;
  return shorten(value, 200);
}

function table(items, caption) {
  const columns = [...new Set(items.flatMap((item) => Object.keys(item)))].filter((c) => !HIDDEN_COLUMNS.has(c));
  return el(
    "table",
    { class: "part" },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c)))),
    el(
      "tbody",
      {},
      items.map((item) => el("tr", {}, columns.map((c) => el("td", {}, cell(c, item[c]))))),
    ),
  );
}

function voting(record) {
  // A vote's rounds as two flat tables: every ballot, and each round's tally.
  if (!Array.isArray(record.rounds)) return {};
  return {
    votes: record.rounds.flatMap((r) => r.ballots || []),
    rounds: record.rounds.map((r) => ({
      round: r.number,
      counts: r.tally ? Object.entries(r.tally.counts).map(([o, n]) => `${o}: ${n}`).join(", ") : "",
      winner: r.tally ? r.tally.winner : null,
      quorum_met: r.tally ? r.tally.quorum_met : null,
      complete: r.complete,
    })),
  };
}

function renderRun(view) {
  state.run = view;
  const record = view.record;
  $("#run-id").textContent = view.run_id;
  const meta = [
    ["workflow", view.workflow],
    ["status", badge(view.status)],
    ["elapsed", el("span", { id: "run-elapsed" }, `${view.elapsed.toFixed(1)} s`)],
    ["started", clock(view.started_at)],
    ["input", view.input],
  ];
  if (view.error) meta.push(["error", view.error]);
  $("#run-meta").replaceChildren(...meta.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("#run-cancel").hidden = view.state !== "running";
  renderDiagram($("#run-diagram"), view.mermaid);
  const usage = Object.entries(record ? record.usage : {});
  fillRows(
    $("#run-usage"),
    usage.length
      ? usage.map(([agent, u]) =>
          el("tr", {}, el("th", { scope: "row" }, agent), el("td", { class: "num" }, u.requests), el("td", { class: "num" }, u.prompt_tokens), el("td", { class: "num" }, u.completion_tokens), el("td", { class: "num" }, u.prompt_tokens + u.completion_tokens)),
        )
      : [emptyRow(5, "No tokens spent yet.")],
  );
  const shown = record ? { ...record, ...voting(record) } : null;
  const parts = PARTS.filter(([key]) => shown && Array.isArray(shown[key]) && shown[key].length).map(([key, title]) =>
    table(shown[key].map((item) => (typeof item === "object" && item !== null ? item : { value: item })), title),
  );
  $("#run-parts").replaceChildren(...parts);
  const fields = RESULT_FIELDS.filter((key) => record && record[key] != null && record[key] !== "" && !(typeof record[key] === "object" && !Object.keys(record[key]).length));
  const heading =
    view.state === "running" ? "Partial result so far (the run is going on)." : record && record.status !== "completed" ? `Partial result: the run ended ${record.status}.` : "";
  $("#run-result").replaceChildren(
    heading ? el("p", { class: "note" }, heading) : "",
    fields.length ? el("dl", { class: "meta" }, fields.flatMap((k) => [el("dt", {}, k), el("dd", { class: "pre" }, shorten(record[k], 4000))])) : el("p", { class: "hint" }, view.state === "running" ? "No result yet." : "No result."),
  );
  const events = record ? record.events : [];
  fillRows(
    $("#run-events"),
    events.length
      ? events.map((e) => el("tr", {}, el("td", { class: "num" }, e.seq), el("td", { class: "num" }, e.at.toFixed(2)), el("td", {}, e.kind), el("td", {}, e.source), el("td", {}, e.target || "—"), el("td", {}, e.summary)))
      : [emptyRow(6, "No events yet.")],
  );
}

async function openRun(runId) {
  if (state.runStream) state.runStream.abort();
  const controller = new AbortController();
  state.runStream = controller;
  state.runId = runId;
  showMessage($("#run-message"), "");
  try {
    renderRun(await call("GET", `/v1/console/runs/${encodeURIComponent(runId)}`));
    if (state.run.state !== "running") return;
    await stream(
      `/v1/console/runs/${encodeURIComponent(runId)}/live?interval=0.5`,
      (name, data) => {
        if (name === "run") renderRun(data);
        else if (name === "tick" && $("#run-elapsed")) $("#run-elapsed").textContent = `${data.elapsed.toFixed(1)} s`;
      },
      controller.signal,
    );
  } catch (exc) {
    failed(exc, $("#run-message"));
  }
}

// -- live snapshot --------------------------------------------------------------------------

function applySnapshot(snapshot) {
  state.snapshot = snapshot;
  renderTeam();
  renderActors();
  renderRuns();
  renderDeadLetters();
}

function setConnection(text) {
  $("#connection").textContent = text;
}

async function live() {
  const controller = new AbortController();
  state.live = controller;
  while (!controller.signal.aborted) {
    let stopping = false;
    try {
      setConnection("Live");
      await stream(
        "/v1/console/live?interval=1",
        (name, data) => {
          if (name === "snapshot") applySnapshot(data);
          else if (name === "stopping") stopping = true;
        },
        controller.signal,
      );
      if (controller.signal.aborted) return;
      setConnection(stopping ? "The team is stopping: the data shown is the last seen." : "Disconnected; reconnecting…");
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) return logout(exc.message);
      setConnection(`Disconnected (${exc.message}); reconnecting…`);
    }
    await new Promise((resolve) => setTimeout(resolve, stopping ? 5000 : 2000));
  }
}

// -- navigation, login, forms ---------------------------------------------------------------

function route() {
  const hash = location.hash.replace(/^#/, "") || "team";
  const [view, arg] = hash.startsWith("run/") ? ["run", decodeURIComponent(hash.slice(4))] : [hash, null];
  const name = VIEWS.includes(view) ? view : "team";
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== name;
  for (const link of document.querySelectorAll("nav a")) {
    const current = link.getAttribute("href") === `#${name === "run" ? "runs" : name}`;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (name === "team") {
    state.teamText = "";
    renderTeam();
  }
  if (name === "run" && arg && (arg !== state.runId || !state.run)) openRun(arg);
  if (name !== "run" && state.runStream) {
    state.runStream.abort();
    state.runStream = null;
    state.runId = null;
  }
}

function failed(exc, target) {
  if (exc instanceof ApiError && exc.status === 401) {
    logout(exc.message);
    return;
  }
  showMessage(target, exc.message || String(exc), "error");
}

function parseInput(text, asJson) {
  if (!asJson) return text;
  try {
    return JSON.parse(text);
  } catch (exc) {
    throw new Error(`The text is not valid JSON: ${exc.message}`);
  }
}

async function onMessage(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const mode = event.submitter ? event.submitter.value : "ask";
  const out = $("#message-out");
  const agent = $("#message-agent").value;
  form.setAttribute("aria-busy", "true");
  showMessage(out, mode === "ask" ? `Asking ${agent}…` : `Telling ${agent}…`);
  try {
    const message = parseInput($("#message-text").value, $("#message-json").checked);
    const path = `/v1/agents/${encodeURIComponent(agent)}/${mode}`;
    if (mode === "ask") {
      const timeout = $("#message-timeout").value;
      const body = timeout ? { message, timeout: Number(timeout) } : { message };
      const answer = await call("POST", path, body);
      const reply = answer.text != null ? answer.text : JSON.stringify(answer.reply, null, 2);
      out.replaceChildren(el("p", { class: "note" }, `${agent} answered in ${answer.latency.toFixed(2)} s:`), el("pre", { class: "reply" }, reply));
    } else {
      const answer = await call("POST", path, { message });
      showMessage(out, `Queued for ${agent} (message ${answer.message_id}).`);
    }
  } catch (exc) {
    failed(exc, out);
  } finally {
    form.removeAttribute("aria-busy");
  }
}

async function onRun(event) {
  event.preventDefault();
  const out = $("#run-out");
  const workflow = $("#run-workflow").value;
  try {
    const input = parseInput($("#run-input").value, $("#run-json").checked);
    const run = await call("POST", `/v1/workflows/${encodeURIComponent(workflow)}/runs`, { input });
    out.replaceChildren(el("p", { class: "note" }, `Run `, runLink(run), ` of ${workflow} started.`));
    location.hash = `#run/${run.run_id}`;
  } catch (exc) {
    failed(exc, out);
  }
}

async function cancelRun(runId, out) {
  try {
    const run = await call("POST", `/v1/runs/${encodeURIComponent(runId)}/cancel`);
    showMessage(out, `Cancel requested for run ${run.run_id} (it was ${run.status}).`);
  } catch (exc) {
    failed(exc, out);
  }
}

function showApp(show) {
  $("#app").hidden = !show;
  $("#login").hidden = show;
  $("#logout").hidden = !show;
}

function logout(reason) {
  if (state.live) state.live.abort();
  if (state.runStream) state.runStream.abort();
  Object.assign(state, { team: null, snapshot: null, live: null, run: null, runId: null, runStream: null, teamText: "" });
  clearToken();
  showApp(false);
  setConnection("");
  const error = $("#login-error");
  error.hidden = !reason;
  error.textContent = reason || "";
  $("#token").value = "";
  $("#token").focus();
}

async function open() {
  state.team = await call("GET", "/v1/team");
  $("#team-name").textContent = `· ${state.team.name}`;
  document.title = `${state.team.name} · letta-actors console`;
  showApp(true);
  fillForms();
  route();
  live();
}

function notOpened(exc) {
  // A refused token is forgotten; any other failure keeps it in the form, to try again.
  const token = getToken();
  logout(exc.message);
  if (!(exc instanceof ApiError && exc.status === 401) && token) $("#token").value = token;
}

async function onLogin(event) {
  event.preventDefault();
  setToken($("#token").value.trim());
  try {
    await open();
    $("#main").focus();
  } catch (exc) {
    notOpened(exc);
  }
}

function main() {
  window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "default", flowchart: { htmlLabels: false }, sequence: { wrap: true, width: 220 } });
  $("#login-form").addEventListener("submit", onLogin);
  $("#logout").addEventListener("click", () => logout(""));
  $("#message-form").addEventListener("submit", onMessage);
  $("#run-form").addEventListener("submit", onRun);
  $("#cancel-form").addEventListener("submit", (event) => {
    event.preventDefault();
    cancelRun($("#cancel-run").value.trim(), $("#cancel-out"));
  });
  $("#run-cancel").addEventListener("click", () => cancelRun(state.runId, $("#run-message")));
  window.addEventListener("hashchange", route);
  if (getToken() === null) {
    showApp(false);
    $("#token").focus();
  } else {
    open().catch(notOpened);
  }
}

main();
