// Talking to the daemon: the token (session storage only), JSON calls, server-sent events
// read with fetch (EventSource cannot send an Authorization header), readable error messages.

const TOKEN_KEY = "letta-actors-console-token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  const token = getToken();
  if (token) out.Authorization = `Bearer ${token}`;
  return out;
}

/** An error answer of the API ({error, detail}), or the daemon not answering at all. */
export class ApiError extends Error {
  constructor(status, code, detail, retryAfter) {
    super(describe(status, code, detail, retryAfter));
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

const TITLES = {
  unauthorized: "The token was refused",
  unknown_agent: "No such agent",
  unknown_workflow: "No such workflow",
  unknown_run: "No such run",
  invalid_request: "The request is not valid",
  body_too_large: "The message is too large",
  mailbox_full: "The agent's mailbox is full",
  shutting_down: "The team is stopping",
  timeout: "The agent did not answer in time",
  agent_failed: "The agent failed",
  not_started: "The team has not started",
  unreachable: "The daemon does not answer",
};

function detailText(detail) {
  if (detail == null || detail === "") return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        if (d && typeof d === "object" && "msg" in d) {
          const where = (d.loc || []).filter((p) => p !== "body").join(".");
          return where ? `${where}: ${d.msg}` : d.msg;
        }
        return JSON.stringify(d);
      })
      .join("; ");
  }
  return JSON.stringify(detail);
}

/** One line a person can read: what went wrong, why, and when to retry. */
export function describe(status, code, detail, retryAfter) {
  const title = TITLES[code] || code || "Error";
  const text = detailText(detail);
  const http = status ? ` (HTTP ${status})` : "";
  const retry = retryAfter ? ` Try again in ${retryAfter} s.` : "";
  return `${title}${http}${text ? `: ${text}` : "."}${retry}`;
}

async function errorOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = { error: response.statusText, detail: "" };
  }
  return new ApiError(
    response.status,
    body.error || response.statusText,
    body.detail,
    response.headers.get("Retry-After"),
  );
}

/** A JSON call: resolves with the body, rejects with an ApiError. */
export async function call(method, path, body) {
  const init = { method, headers: headers(), cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (exc) {
    throw new ApiError(0, "unreachable", String(exc.message || exc));
  }
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

/**
 * Read a server-sent event stream: onEvent(name, data) for each event (data parsed as JSON).
 * Resolves when the server ends the stream; rejects with an ApiError; abort with `signal`.
 */
export async function stream(path, onEvent, signal) {
  let response;
  try {
    response = await fetch(path, {
      headers: headers({ Accept: "text/event-stream" }),
      cache: "no-store",
      signal,
    });
  } catch (exc) {
    if (signal && signal.aborted) return;
    throw new ApiError(0, "unreachable", String(exc.message || exc));
  }
  if (!response.ok) throw await errorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  } catch (exc) {
    if (signal && signal.aborted) return;
    throw new ApiError(0, "unreachable", `the stream broke: ${exc.message || exc}`);
  }
}
