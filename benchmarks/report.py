"""Rendering of results: machine facts, the markdown tables, target verdicts, JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._core import Measurement, Section, SectionResult, Target, best_ratio

PACKAGES = ("letta-actors", "anyio", "trio", "autogen-core", "pykka")


def machine_facts() -> dict[str, str]:
    """What the figures depend on: cores, interpreter, package versions, date."""
    facts = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpu": _cpu_model(),
    }
    for name in PACKAGES:
        try:
            facts[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            facts[name] = "not installed"
    facts["letta_actors sources"] = _source_digest()
    return facts


def _source_digest() -> str:
    """sha256 over letta_actors' .py files: ties the figures to the runtime they measured."""
    spec = importlib.util.find_spec("letta_actors")
    if spec is None or not spec.submodule_search_locations:
        return "not found"
    root = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return f"sha256:{digest.hexdigest()[:16]}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt(x: float | None) -> str:
    """A figure with a sensible number of digits."""
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


@dataclass(frozen=True)
class Verdict:
    """A target, the figure it was judged on, and whether it holds."""

    target: Target
    figure: float | None
    detail: str

    @property
    def status(self) -> str:
        """``met``, ``NOT MET`` or ``n/a`` (subject skipped)."""
        if self.figure is None:
            return "n/a"
        t = self.target
        ok = self.figure >= t.threshold if t.op == ">=" else self.figure <= t.threshold
        return "met" if ok else "NOT MET"


def judge(result: SectionResult) -> list[Verdict]:
    """Evaluate every target of a section against its measurements."""
    verdicts = []
    for t in result.targets:
        m = result.find(t.subject, t.metric)
        if m is None or m.value is None:
            verdicts.append(Verdict(t, None, m.skipped if m else "not measured"))
            continue
        if t.relative:
            base = result.baseline_for(t.metric)
            ratio = result.ratio(m)
            best = best_ratio(m, base) if base is not None else None
            detail = (
                f"{ratio:.2f}x (medians {fmt(m.value)} vs {fmt(base.value)} {m.unit}; "
                f"best samples: {best:.2f}x)"
                if ratio is not None and base is not None and best is not None
                else "no baseline"
            )
            verdicts.append(Verdict(t, ratio, detail))
        else:
            verdicts.append(Verdict(t, m.value, f"{fmt(m.value)} {m.unit}"))
    return verdicts


def _row(section: Section, result: SectionResult, m: Measurement) -> str:
    ratio = result.ratio(m)
    spread = f"{fmt(min(m.samples))}-{fmt(max(m.samples))}" if m.samples else "-"
    subject = f"**{m.subject}** (baseline)" if m.baseline else m.subject
    note = m.skipped or m.note
    ratio_text = "1.00x" if m.baseline and m.samples else (f"{ratio:.2f}x" if ratio else "-")
    cells = [section.name, subject, m.metric, fmt(m.value), m.unit, ratio_text, spread, note]
    return "| " + " | ".join(cells) + " |"


def markdown(
    facts: dict[str, str], results: list[tuple[Section, SectionResult]], command: str
) -> str:
    """The whole report as markdown."""
    lines = [f"Command: `{command}`", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines += [
        "",
        "Medians over the repeats. `x baseline` compares with the section's baseline measured",
        "in this same run: in sections whose subjects take turns round by round (tell, ask,",
        "metrics) it is the median of the per-round ratios, elsewhere the ratio of the medians.",
        "`-`: no baseline (an absolute target). Throughput: higher is better; time and memory:",
        "lower is better.",
        "",
        "| section | subject | metric | median | unit | x baseline | min-max | note |",
        "| --- | --- | --- | ---: | --- | ---: | --- | --- |",
    ]
    for section, result in results:
        lines += [_row(section, result, m) for m in result.measurements]
    lines += ["", "| target | measured | verdict |", "| --- | --- | --- |"]
    for _, result in results:
        for v in judge(result):
            lines.append(f"| {v.target.description} | {v.detail} | {v.status} |")
    notes = [f"- {s.name}: {n}" for s, r in results for n in r.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def as_json(
    facts: dict[str, str], results: list[tuple[Section, SectionResult]], command: str
) -> dict[str, Any]:
    """The whole report as a JSON-ready dict."""
    sections: dict[str, Any] = {}
    for section, result in results:
        sections[section.name] = {
            "title": section.title,
            "measurements": [
                {
                    "subject": m.subject,
                    "metric": m.metric,
                    "unit": m.unit,
                    "better": m.better,
                    "median": m.value,
                    "samples": m.samples,
                    "baseline": m.baseline,
                    "ratio_to_baseline": result.ratio(m),
                    "best": m.best,
                    "note": m.note,
                    "skipped": m.skipped,
                }
                for m in result.measurements
            ],
            "targets": [
                {
                    "description": v.target.description,
                    "figure": v.figure,
                    "detail": v.detail,
                    "verdict": v.status,
                }
                for v in judge(result)
            ],
            "notes": result.notes,
        }
    return {
        "command": command,
        "machine": facts,
        "python_executable": sys.executable,
        "sections": sections,
    }
