"""``python -m benchmarks soak --minutes N``: the daemon under a fixed mixed load for N minutes.

The soak writes a team file, starts the daemon on it (``python -m letta_actors.daemon run``,
the ``letta-actors`` CLI, in its own process), and drives it over HTTP from this process:

- asks to the Python workers at ``--rate`` asks/s (at most ``--concurrency`` in flight),
  one in ``--crash-every`` (2 %) asking the worker to crash (502 and a supervisor restart);
- a two-stage pipeline workflow every ``--workflow-every`` s (the team keeps ``--runs-kept``
  finished runs, so the run store is full after a minute or so);
- a scrape of ``/metrics`` every ``--scrape-every`` s, as Prometheus asks (OpenMetrics, gzip).

Every ``--sample-every`` s it samples the daemon's RSS, open file descriptors and threads from
``/proc``, and its asyncio tasks through a probe agent in the team. At the end it lets the
work in flight finish, scrapes the counters once more, stops the daemon with SIGTERM, and
checks that nothing is unaccounted: every ask answered or failed as it should, the daemon's
counters equal to what was sent, every run completed, a clean shutdown report.

Reported: the least-squares slopes (per minute) of RSS, Python's allocated blocks, fds, tasks
and threads after warm-up, after every store is full (the run store at ``runs_kept``, the
dead-letter log at its capacity) and over the second half of the run (has it levelled off?);
the log volume per day at the load, scrape latencies, and the accounting. Results go to
``--out`` (``soak.json`` with every sample, ``soak.md`` the summary, ``daemon.log`` the daemon's
logs, ``samples.jsonl`` the samples as they are taken). Exit code 1 when something is
unaccounted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
from prometheus_client.parser import text_string_to_metric_families

from benchmarks._core import percentile
from benchmarks._scraper import ACCEPT
from benchmarks.report import machine_facts

ROOT = Path(__file__).resolve().parents[1]
#: Agents that are not load workers: the probe and the two pipeline stages.
PROBE, STAGES = "probe", ("stage_a", "stage_b")


@dataclass(frozen=True)
class SoakConfig:
    """The load and the sampling (see the module docstring)."""

    minutes: float
    rate: float = 100.0
    workers: int = 4
    crash_every: int = 50
    concurrency: int = 32
    workflow_every: float = 2.0
    runs_kept: int = 30
    scrape_every: float = 1.0
    sample_every: float = 5.0
    census_every: float = 0.0
    warmup: float | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    tracemalloc: bool = False
    out: Path = Path("/tmp/letta-actors-soak")

    @property
    def seconds(self) -> float:
        return self.minutes * 60

    @property
    def warmup_s(self) -> float:
        """Default warm-up: a fifth of the run, at most 5 minutes."""
        return self.warmup if self.warmup is not None else min(300.0, self.seconds / 5)


def team_toml(cfg: SoakConfig) -> str:
    """The soak's team file: ``cfg.workers`` workers, the probe, a two-stage pipeline."""
    workers = "".join(
        f'\n[agents.w{i}]\nkind = "python"\nfactory = "benchmarks._soak_actors:Worker"\n'
        for i in range(cfg.workers)
    )
    stages = "".join(
        f'\n[agents.{s}]\nkind = "python"\nfactory = "benchmarks._soak_actors:Worker"\n'
        for s in STAGES
    )
    return f"""\
[team]
name = "soak"
python_path = [{json.dumps(str(ROOT))}]
shutdown_timeout = 30

# Crashes are the load, not a fault: restart at once, never give up.
[supervision]
intensity = {{ max_restarts = 1000000, period = 1 }}
backoff = {{ min_delay = 0, max_delay = 0 }}
{workers}{stages}
[agents.{PROBE}]
kind = "python"
factory = "benchmarks._soak_actors:Probe"

[workflows.relay]
kind = "pipeline"
stages = [{{ name = "a", actor = "{STAGES[0]}" }}, {{ name = "b", actor = "{STAGES[1]}" }}]

[api]
port = 0
max_runs_kept = {cfg.runs_kept}
"""


# -- the daemon ---------------------------------------------------------------------------------


@dataclass
class Daemon:
    """The daemon process, its URL and its log file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    stdout: Path

    def proc(self, name: str) -> Path:
        return Path(f"/proc/{self.process.pid}/{name}")

    def rss_kb(self) -> int:
        return _status_field(self.proc("status").read_text(), "VmRSS")

    def threads(self) -> int:
        return _status_field(self.proc("status").read_text(), "Threads")

    def fds(self) -> int:
        return len(os.listdir(self.proc("fd")))

    def shutdown_report(self) -> dict[str, Any]:
        for line in self.stdout.read_text().splitlines():
            if '"shutdown_report"' in line:
                report: dict[str, Any] = json.loads(line)
                return report
        return {}


def _status_field(text: str, key: str) -> int:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise LookupError(key)


@contextlib.contextmanager
def daemon(cfg: SoakConfig) -> Iterator[Daemon]:
    """Start the daemon on the soak team; kill it at the end if it is still running."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    team, ready = cfg.out / "team.toml", cfg.out / "ready.json"
    team.write_text(team_toml(cfg))
    (cfg.out / "samples.jsonl").unlink(missing_ok=True)
    ready.unlink(missing_ok=True)
    log, stdout = cfg.out / "daemon.log", cfg.out / "daemon.out"
    argv = [sys.executable, "-m", "letta_actors.daemon", "run", str(team)]
    argv += ["--ready-file", str(ready), "--log-level", cfg.log_level]
    argv += ["--log-format", cfg.log_format]
    env = {**os.environ, **({"PYTHONTRACEMALLOC": "1"} if cfg.tracemalloc else {})}
    with log.open("wb") as err, stdout.open("wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 300  # a loaded machine, tracemalloc: slow imports
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the daemon did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)  # polling another process's ready file
        yield Daemon(process, json.loads(ready.read_text())["url"], log, stdout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- the load -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the load sent and what came back."""

    sent: Counter[str] = field(default_factory=Counter)  # per worker
    crash_sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)  # 502 agent_failed
    other: Counter[str] = field(default_factory=Counter)  # any other outcome, by kind
    latencies: list[float] = field(default_factory=list)  # seconds, a sample of them
    probe_asks: int = 0
    runs_started: int = 0
    runs_refused: Counter[str] = field(default_factory=Counter)
    scrape_ms: list[float] = field(default_factory=list)
    scrape_errors: Counter[str] = field(default_factory=Counter)
    sample_errors: Counter[str] = field(default_factory=Counter)

    def total(self, c: Counter[str]) -> int:
        return sum(c.values())


class Soak:
    """One soak run (see the module docstring)."""

    def __init__(self, cfg: SoakConfig, d: Daemon) -> None:
        self.cfg, self.d = cfg, d
        self.tally = Tally()
        self.samples: list[dict[str, Any]] = []
        self.censuses: list[dict[str, Any]] = []
        self.start = 0.0
        self.end = 0.0

    def now(self) -> float:
        return time.monotonic() - self.start

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        # Idle connections are dropped before the server's keep-alive timeout (5 s) closes
        # them: a request sent on a connection the server is closing would be lost in transit.
        limits = httpx.Limits(max_connections=cfg.concurrency + 4, keepalive_expiry=2.0)
        async with httpx.AsyncClient(base_url=self.d.url, timeout=60, limits=limits) as http:
            self.start = time.monotonic()
            self.end = self.start + cfg.seconds
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._asks, http)
                tg.start_soon(self._workflows, http)
                tg.start_soon(self._scrapes, http)
                tg.start_soon(self._sampler, http)
            runs = await self._settle_runs(http)
            await self._sample(http, census=True)
            metrics = (await http.get("/metrics")).text
        return {"runs": runs, "metrics": metrics}

    async def _asks(self, http: httpx.AsyncClient) -> None:
        cfg, tally = self.cfg, self.tally
        limiter = anyio.Semaphore(cfg.concurrency)
        interval = 1 / cfg.rate
        due = time.monotonic()
        i = 0
        async with anyio.create_task_group() as tg:
            while (now := time.monotonic()) < self.end:
                if due > now:
                    await anyio.sleep(due - now)  # pacing the load
                due = max(due + interval, time.monotonic() - 1)  # no burst after a stall
                await limiter.acquire()
                worker = f"w{i % cfg.workers}"
                crash = (i // cfg.workers) % cfg.crash_every == cfg.crash_every - 1
                tally.sent[worker] += 1
                tally.crash_sent[worker] += crash
                tg.start_soon(self._ask, http, limiter, worker, {"n": i, "crash": crash})
                i += 1

    async def _ask(
        self, http: httpx.AsyncClient, limiter: anyio.Semaphore, worker: str, message: Any
    ) -> None:
        tally = self.tally
        started = time.monotonic()
        try:
            response = await http.post(f"/v1/agents/{worker}/ask", json={"message": message})
        except httpx.HTTPError as exc:
            tally.other[f"transport:{type(exc).__name__}"] += 1
        else:
            code = response.status_code
            if code == 200 and response.json()["reply"] == {"n": message["n"], "ok": True}:
                tally.answered[worker] += 1
                if message["n"] % 10 == 0:
                    tally.latencies.append(time.monotonic() - started)
            elif code == 502 and message["crash"]:
                tally.failed[worker] += 1
            else:
                tally.other[f"{code}:{response.text[:80]}"] += 1
        finally:
            limiter.release()

    async def _scrapes(self, http: httpx.AsyncClient) -> None:
        """Scrape ``/metrics`` as Prometheus does (OpenMetrics, gzip) every ``scrape_every``."""
        headers = {"Accept": ACCEPT, "Accept-Encoding": "gzip"}
        due = time.monotonic()
        while (now := time.monotonic()) < self.end:
            if due > now:
                await anyio.sleep(due - now)  # pacing the scrapes
            due = max(due + self.cfg.scrape_every, time.monotonic())
            started = time.monotonic()
            try:
                response = await http.get("/metrics", headers=headers, timeout=30)
            except httpx.HTTPError as exc:
                self.tally.scrape_errors[type(exc).__name__] += 1
                continue
            if response.status_code == 200:
                self.tally.scrape_ms.append((time.monotonic() - started) * 1000)
            else:
                self.tally.scrape_errors[str(response.status_code)] += 1

    async def _workflows(self, http: httpx.AsyncClient) -> None:
        while time.monotonic() < self.end:
            number = self.tally.runs_started + sum(self.tally.runs_refused.values())
            try:
                response = await http.post("/v1/workflows/relay/runs", json={"input": number})
            except httpx.HTTPError as exc:
                self.tally.runs_refused[type(exc).__name__] += 1
                continue
            if response.status_code == 202:
                self.tally.runs_started += 1
            else:
                self.tally.runs_refused[str(response.status_code)] += 1
            await anyio.sleep(self.cfg.workflow_every)  # pacing the load

    async def _sampler(self, http: httpx.AsyncClient) -> None:
        next_census = self.cfg.warmup_s
        while time.monotonic() < self.end:
            census = self.now() >= next_census
            if census:  # at the end of the warm-up, then every census_every (0: never)
                next_census += self.cfg.census_every or math.inf
            await self._sample(http, census=census)
            await anyio.sleep(self.cfg.sample_every)  # pacing the samples

    async def _sample(self, http: httpx.AsyncClient, *, census: bool) -> None:
        inside: dict[str, Any] = {}
        runs: list[Any] | None = None
        self.tally.probe_asks += 1
        try:
            probe = await http.post(
                f"/v1/agents/{PROBE}/ask", json={"message": "census" if census else "tasks"}
            )
            if probe.status_code == 200:
                inside = probe.json()["reply"]
            runs = (await http.get("/v1/runs")).json()
        except httpx.HTTPError as exc:  # a sample missed must not sink the soak
            self.tally.sample_errors[type(exc).__name__] += 1
        sample = {
            "t": round(self.now(), 3),
            "rss_kb": self.d.rss_kb(),
            "fds": self.d.fds(),
            "threads": self.d.threads(),
            "tasks": inside.get("tasks"),
            "py_blocks": inside.get("py_blocks"),
            "dead_letters_kept": inside.get("dead_letters_kept"),
            "runs_kept": len(runs) if runs is not None else None,
            "asks_sent": self.tally.total(self.tally.sent),
            "log_bytes": self.d.log.stat().st_size,
        }
        self.samples.append(sample)
        with (self.cfg.out / "samples.jsonl").open("a") as out:  # kept if the soak dies
            out.write(json.dumps(sample) + "\n")
        if census:
            self.censuses.append(
                {"t": sample["t"]} | {k: inside.get(k) for k in ("objects", "types", "grown")}
            )

    async def _settle_runs(self, http: httpx.AsyncClient) -> list[dict[str, Any]]:
        """The kept runs once none is running (at most 30 s)."""
        runs: list[dict[str, Any]] = []
        with anyio.move_on_after(30):
            while True:
                runs = (await http.get("/v1/runs")).json()
                if all(r["state"] == "finished" for r in runs):
                    break
                await anyio.sleep(0.1)  # polling the daemon's runs
        return runs


# -- analysis -----------------------------------------------------------------------------------


def slope(samples: Sequence[dict[str, Any]], key: str) -> float | None:
    """Least-squares slope of ``key`` per minute over ``samples`` (None with < 3 points)."""
    points = [(s["t"] / 60, s[key]) for s in samples if s.get(key) is not None]
    if len(points) < 3 or len({x for x, _ in points}) < 2:
        return None
    xs, ys = zip(*points, strict=True)
    return float(statistics.linear_regression(xs, ys).slope)


def metric_values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text scrape, by name and labels."""
    values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return values


def accounting(
    cfg: SoakConfig, tally: Tally, metrics: str, runs: list[dict[str, Any]], report: dict[str, Any]
) -> list[dict[str, Any]]:
    """Checks that nothing is unaccounted: each ``{check, expected, actual, ok}``."""
    values = metric_values(metrics)

    def metric(name: str, **labels: str) -> float:
        return values.get((name, frozenset(labels.items())), 0.0)

    def total(name: str) -> float:
        return sum(v for (n, _), v in values.items() if n == name)

    def processed(actor: str, outcome: str) -> float:
        return metric("letta_actors_messages_processed_total", actor=actor, outcome=outcome)

    checks: list[tuple[str, Any, Any]] = []
    sent, crashes = tally.total(tally.sent), tally.total(tally.crash_sent)
    answered, failed = tally.total(tally.answered), tally.total(tally.failed)
    other = tally.total(tally.other)
    checks += [
        ("asks sent = answered + failed + other", sent, answered + failed + other),
        ("asks with another outcome", 0, other),
        ("asks answered = asks not crashing", sent - crashes, answered),
        ("asks failed (502) = crashes asked for", crashes, failed),
    ]
    for w in sorted(tally.sent):
        checks += [
            (f"{w}: received counter = asks sent", tally.sent[w],
             metric("letta_actors_messages_received_total", actor=w)),
            (f"{w}: processed ok counter = answered", tally.answered[w], processed(w, "ok")),
            (f"{w}: processed failed counter = crashes", tally.crash_sent[w],
             processed(w, "failed")),
            (f"{w}: restarts counter = crashes", tally.crash_sent[w],
             metric("letta_actors_restarts_total", actor=w)),
        ]  # fmt: skip
    checks.append(("probe: processed ok counter = probe asks", tally.probe_asks,
                   processed(PROBE, "ok")))  # fmt: skip
    checks.append(("runs refused", 0, sum(tally.runs_refused.values())))
    checks += [
        (f"{stage}: processed ok counter = runs started", tally.runs_started,
         processed(stage, "ok"))
        for stage in STAGES
    ]  # fmt: skip
    checks += [
        ("runs kept = min(started, runs_kept)", min(tally.runs_started, cfg.runs_kept), len(runs)),
        ("kept runs completed", len(runs), sum(r["status"] == "completed" for r in runs)),
        ("asks timed out counter", 0, total("letta_actors_asks_timed_out_total")),
        ("messages dropped counter", 0, total("letta_actors_messages_dropped_total")),
        ("escalations counter", 0, total("letta_actors_supervisor_escalations_total")),
        ("shutdown: graceful (not forced)", False, report.get("forced")),
        ("shutdown: asks abandoned", [], report.get("abandoned_asks")),
        ("shutdown: runs unfinished", [], report.get("runs")),
        ("shutdown: refused at stop", 0, report.get("refused_at_stop")),
    ]
    return [{"check": c, "expected": e, "actual": a, "ok": e == a} for c, e, a in checks]


def stores_full_at(cfg: SoakConfig, samples: Sequence[dict[str, Any]]) -> float | None:
    """When every store had stopped growing: the run store at ``runs_kept`` and the dead-letter
    log full (or not growing at all); None if that never happened."""
    runs_full: float | None = next(
        (s["t"] for s in samples if (s["runs_kept"] or 0) >= cfg.runs_kept), None
    )
    if runs_full is None:
        return None
    kept = [s["dead_letters_kept"] for s in samples if s["dead_letters_kept"] is not None]
    if not kept or kept[-1] == kept[0]:
        return runs_full
    top = max(kept)
    letters_full: float = next(s["t"] for s in samples if s["dead_letters_kept"] == top)
    if letters_full == samples[-1]["t"]:  # still growing at the end
        return None
    return max(runs_full, letters_full)


def analyse(cfg: SoakConfig, soak: Soak, ended: dict[str, Any], report: dict[str, Any],
            exit_code: int | None) -> dict[str, Any]:  # fmt: skip
    """Slopes, figures and checks of a finished soak (JSON-ready)."""
    samples = soak.samples
    loaded = [s for s in samples if s["t"] <= cfg.seconds]  # not the one after the load
    warm = [s for s in loaded if s["t"] >= cfg.warmup_s]
    full_at = stores_full_at(cfg, loaded)
    full = [s for s in loaded if full_at is not None and s["t"] >= full_at]
    keys = ("rss_kb", "py_blocks", "fds", "tasks", "threads")
    half = loaded[-1]["t"] / 2 if loaded else 0.0
    second_half = [s for s in loaded if s["t"] >= half]
    windows = {
        "after_warmup": {"from_s": cfg.warmup_s, "samples": len(warm)}
        | {f"{k}_per_min": slope(warm, k) for k in keys},
        "stores_full": {"from_s": full_at, "samples": len(full)}
        | {f"{k}_per_min": slope(full, k) for k in keys},
        "second_half": {"from_s": half, "samples": len(second_half)}
        | {f"{k}_per_min": slope(second_half, k) for k in keys},
    }
    tally = soak.tally
    sent = tally.total(tally.sent)
    elapsed = samples[-1]["t"] if samples else cfg.seconds
    log_rate, ask_rate = slope(warm, "log_bytes"), slope(warm, "asks_sent")
    checks = accounting(cfg, tally, ended["metrics"], ended["runs"], report)
    checks.append(
        {"check": "daemon exit code", "expected": 0, "actual": exit_code, "ok": exit_code == 0}
    )
    scrape_ms = tally.scrape_ms
    lat = tally.latencies
    growth: dict[str, int] = {}
    if len(soak.censuses) >= 2 and soak.censuses[0]["types"] and soak.censuses[-1]["types"]:
        first, last = soak.censuses[0]["types"], soak.censuses[-1]["types"]
        growth = {t: last.get(t, 0) - first.get(t, 0) for t in {*first, *last}}
        growth = dict(sorted(growth.items(), key=lambda kv: -abs(kv[1]))[:10])
    return {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
        | {"warmup_s": cfg.warmup_s},
        "elapsed_s": elapsed,
        "asks_sent": sent,
        "asks_per_s": sent / cfg.seconds,
        "ask_latency_ms": {
            "p50": percentile(lat, 50) * 1000 if lat else None,
            "p99": percentile(lat, 99) * 1000 if lat else None,
        },
        "runs_started": tally.runs_started,
        "rss_kb": {
            "first": samples[0]["rss_kb"],
            "last": samples[-1]["rss_kb"],
            "max": max(s["rss_kb"] for s in samples),
        },
        "windows": windows,
        "log_bytes_per_day": log_rate * 60 * 24 if log_rate is not None else None,
        "log_bytes_per_ask": log_rate / ask_rate if log_rate is not None and ask_rate else None,
        "log_level": f"{cfg.log_level} ({cfg.log_format})",
        "scrapes": {
            "count": len(scrape_ms),
            "errors": dict(tally.scrape_errors),
            "p50_ms": percentile(scrape_ms, 50) if scrape_ms else None,
            "max_ms": max(scrape_ms) if scrape_ms else None,
        },
        "sample_errors": dict(tally.sample_errors),
        "other_outcomes": dict(tally.other),
        "objects": [{"t": c["t"], "objects": c["objects"]} for c in soak.censuses],
        "object_growth_by_type": growth,
        "allocations_grown": soak.censuses[-1].get("grown") if soak.censuses else None,
        "checks": checks,
        "unaccounted": [c for c in checks if not c["ok"]],
        "samples": samples,
    }


def _fmt(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:+.2f}{unit}"


def summary(result: dict[str, Any], command: str) -> str:
    """A readable summary of :func:`analyse`'s result (markdown)."""
    lines = [
        f"# Soak: {result['date']}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {result['machine']}  ",
        f"Ran {result['elapsed_s'] / 60:.1f} min: {result['asks_sent']} asks "
        f"({result['asks_per_s']:.1f}/s, p50 {result['ask_latency_ms']['p50'] or 0:.1f} ms, "
        f"p99 {result['ask_latency_ms']['p99'] or 0:.1f} ms), {result['runs_started']} runs, "
        f"{result['scrapes']['count']} scrapes (p50 {result['scrapes']['p50_ms'] or 0:.1f} ms, "
        f"max {result['scrapes']['max_ms'] or 0:.1f} ms, errors {result['scrapes']['errors']}); "
        f"samples missed: {result['sample_errors']}; other ask outcomes: "
        f"{result['other_outcomes']}.",
        f"RSS {result['rss_kb']['first']} KB first, {result['rss_kb']['last']} KB last, "
        f"{result['rss_kb']['max']} KB max.",
        "",
        "| window | from | samples | RSS KB/min | Python blocks/min | fds/min | tasks/min "
        "| threads/min |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, w in result["windows"].items():
        start = "never" if w["from_s"] is None else f"{w['from_s']:.0f} s"
        lines.append(
            f"| {name} | {start} | {w['samples']} | {_fmt(w['rss_kb_per_min'])} | "
            f"{_fmt(w['py_blocks_per_min'])} | "
            f"{_fmt(w['fds_per_min'])} | {_fmt(w['tasks_per_min'])} | "
            f"{_fmt(w['threads_per_min'])} |"
        )
    per_day = result["log_bytes_per_day"]
    lines += [
        "",
        f"Logs at {result['log_level']}: "
        + ("n/a" if per_day is None else f"{per_day / 1e6:.1f} MB/day at this load")
        + f", {result['log_bytes_per_ask'] or 0:.1f} bytes per ask (crashes included).",
        f"Objects tracked by the GC (census): {result['objects']}",
        f"Largest changes by type (first to last census): {result['object_growth_by_type']}",
        *(
            ["Allocations grown most (tracemalloc, first to last census):"]
            + [f"    {line}" for line in result["allocations_grown"]]
            if result["allocations_grown"]
            else []
        ),
        "",
        "Accounting: " + ("nothing unaccounted." if not result["unaccounted"] else "MISMATCHES:"),
    ]
    for c in result["checks"]:
        mark = "ok" if c["ok"] else "MISMATCH"
        lines.append(f"- {mark}: {c['check']}: expected {c['expected']}, got {c['actual']}")
    return "\n".join(lines) + "\n"


# -- the command --------------------------------------------------------------------------------


def soak(cfg: SoakConfig, command: str = "") -> dict[str, Any]:
    """Run one soak; write ``soak.json`` and ``soak.md`` under ``cfg.out``; return the result."""
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with daemon(cfg) as d:
        run = Soak(cfg, d)
        ended = anyio.run(run.run)
        d.process.send_signal(signal.SIGTERM)
        exit_code = d.process.wait(timeout=60)
        report = d.shutdown_report()
    result = analyse(cfg, run, ended, report, exit_code)
    facts = machine_facts()
    machine = f"{facts['nproc']} cores, {facts['cpu']}, {facts['python']}"
    machine += f", letta_actors sources {facts['letta_actors sources']}"
    result = {"date": date, "command": command, "machine": machine} | result
    (cfg.out / "soak.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    (cfg.out / "soak.md").write_text(summary(result, command))
    return result


def parse_args(argv: Sequence[str]) -> SoakConfig:
    """``python -m benchmarks soak`` options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    d = SoakConfig(minutes=0)
    p.add_argument("--minutes", type=float, required=True, help="how long to run the load")
    p.add_argument("--rate", type=float, default=d.rate, help="asks/s to the workers")
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--crash-every", type=int, default=d.crash_every,
                   help="one ask in this many crashes its worker (default 50: 2%%)")  # fmt: skip
    p.add_argument("--concurrency", type=int, default=d.concurrency, help="asks in flight")
    p.add_argument("--workflow-every", type=float, default=d.workflow_every, help="seconds")
    p.add_argument("--runs-kept", type=int, default=d.runs_kept, help="[api] max_runs_kept")
    p.add_argument("--scrape-every", type=float, default=d.scrape_every, help="seconds")
    p.add_argument("--sample-every", type=float, default=d.sample_every, help="seconds")
    p.add_argument("--census-every", type=float, default=d.census_every,
                   help="seconds between object censuses (gc; they move RSS) after the one at "
                        "the end of the warm-up (default 0: none until the end)")  # fmt: skip
    p.add_argument("--warmup", type=float, help="seconds (default: a fifth, at most 300)")
    p.add_argument("--log-level", default=d.log_level, choices=("DEBUG", "INFO", "WARNING"))
    p.add_argument("--log-format", default=d.log_format, choices=("text", "json"))
    p.add_argument(
        "--tracemalloc", action="store_true", help="trace the daemon's allocations (slow)"
    )
    p.add_argument("--out", type=Path, default=d.out, help="folder for the results")
    a = p.parse_args(argv)
    if a.minutes <= 0 or a.rate <= 0 or a.workers < 1 or a.crash_every < 1:
        p.error("--minutes, --rate, --workers and --crash-every must be positive")
    return SoakConfig(
        minutes=a.minutes, rate=a.rate, workers=a.workers, crash_every=a.crash_every,
        concurrency=a.concurrency, workflow_every=a.workflow_every, runs_kept=a.runs_kept,
        scrape_every=a.scrape_every, sample_every=a.sample_every, census_every=a.census_every,
        warmup=a.warmup,
        log_level=a.log_level, log_format=a.log_format, tracemalloc=a.tracemalloc, out=a.out,
    )  # fmt: skip


def main(argv: Sequence[str]) -> int:
    """Run the soak, print the summary; 1 when something is unaccounted."""
    cfg = parse_args(argv)
    command = shlex.join(["python", "-m", "benchmarks", "soak", *argv])
    print(f"[soak] {cfg.minutes:g} min, results in {cfg.out}", file=sys.stderr, flush=True)
    result = soak(cfg, command)
    print(summary(result, command))
    return 1 if result["unaccounted"] else 0
