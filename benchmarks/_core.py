"""Shared pieces of the benchmark runner: result types, the section registry, statistics."""

from __future__ import annotations

import gc
import importlib.util
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class RunConfig:
    """How hard to push: ``quick`` is a seconds-long smoke run, ``repeats`` samples per figure."""

    quick: bool = False
    repeats: int = 7

    def size(self, full: int, quick: int) -> int:
        """Pick a workload size for the current mode."""
        return quick if self.quick else full


@dataclass
class Measurement:
    """One figure: the median of ``samples`` (``None`` when the subject was skipped)."""

    subject: str
    metric: str
    unit: str
    better: Better
    samples: list[float] = field(default_factory=list)
    baseline: bool = False
    note: str = ""
    skipped: str = ""

    @property
    def value(self) -> float | None:
        """Median of the samples, or ``None`` when there are none."""
        return statistics.median(self.samples) if self.samples else None

    @property
    def best(self) -> float | None:
        """The best sample (max or min by ``better``): the figure least hit by noise."""
        if not self.samples:
            return None
        return max(self.samples) if self.better == "higher" else min(self.samples)


@dataclass(frozen=True)
class Target:
    """A stated goal, e.g. ``subject``'s ``metric`` must be ``>= 0.4`` times the baseline."""

    description: str
    subject: str
    metric: str
    op: Literal[">=", "<="]
    threshold: float
    relative: bool


@dataclass
class SectionResult:
    """Everything one section measured, plus the targets it is judged by."""

    measurements: list[Measurement]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Samples were taken in rounds (see :func:`interleave`): the i-th sample of every
    #: subject is from the same round, so ratios are taken per round.
    paired: bool = False

    def find(self, subject: str, metric: str) -> Measurement | None:
        """The measurement of ``subject``/``metric``, if any."""
        for m in self.measurements:
            if m.subject == subject and m.metric == metric:
                return m
        return None

    def baseline_for(self, metric: str) -> Measurement | None:
        """The section's baseline measurement of ``metric``."""
        for m in self.measurements:
            if m.baseline and m.metric == metric:
                return m
        return None

    def ratio(self, m: Measurement) -> float | None:
        """``m`` over the baseline of the same metric (``None`` if either is missing).

        With paired samples: the median of the per-round ratios, which cancels the slow
        and fast phases a shared machine goes through; otherwise the ratio of the medians.
        """
        base = self.baseline_for(m.metric)
        return None if base is None else ratio(m, base, paired=self.paired)


def best_ratio(m: Measurement, base: Measurement) -> float | None:
    """``m``'s best sample over ``base``'s best sample."""
    return m.best / base.best if m.best is not None and base.best else None


def ratio(m: Measurement, base: Measurement, *, paired: bool) -> float | None:
    """``m`` over ``base``: median of per-round ratios if ``paired``, else ratio of medians."""
    if m.value is None or not base.value:
        return None
    if paired and len(m.samples) == len(base.samples) and all(base.samples):
        return statistics.median(x / b for x, b in zip(m.samples, base.samples, strict=True))
    return m.value / base.value


SectionFn = Callable[[RunConfig], SectionResult]


@dataclass(frozen=True)
class Section:
    """A registered benchmark section."""

    name: str
    title: str
    run: SectionFn


SECTIONS: dict[str, Section] = {}


def section(name: str, title: str) -> Callable[[SectionFn], SectionFn]:
    """Register ``fn`` as the section ``name``; sections run in registration order."""

    def register(fn: SectionFn) -> SectionFn:
        if name in SECTIONS:
            raise ValueError(f"duplicate benchmark section {name!r}")
        SECTIONS[name] = Section(name, title, fn)
        return fn

    return register


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (``pct`` in 0..100)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[max(0, min(len(ordered), rank) - 1)]


def available(module: str) -> bool:
    """Whether ``module`` can be imported (peers are optional)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def settle() -> None:
    """Collect garbage so one sample's leftovers do not bill the next."""
    gc.collect()


Sampler = Callable[[], Sequence[float]]
Plan = Sequence[tuple[Sequence[Measurement], Sampler]]


def _take(measurements: Sequence[Measurement], sample: Sampler, *, keep: bool) -> bool:
    """Run ``sample`` once (recording its figures if ``keep``); False, and skipped, if it raised."""
    settle()
    try:
        figures = sample()
    except Exception as exc:  # a peer's failure must not sink the whole run
        for m in measurements:
            m.samples.clear()
            m.skipped = f"failed: {type(exc).__name__}: {exc}"
        return False
    if keep:
        for m, figure in zip(measurements, figures, strict=True):
            m.samples.append(figure)
    return True


def interleave(cfg: RunConfig, plan: Plan) -> None:
    """Sample every subject of ``plan`` once per round, ``cfg.repeats`` rounds.

    Subjects alternate, so a slow phase of the machine hits all of them alike instead of
    whichever happened to run then. Each gets one warm-up run first (outside quick mode).
    A subject that raises is marked skipped and left out of later rounds.
    """
    live = list(plan)
    if not cfg.quick:
        live = [(ms, fn) for ms, fn in live if _take(ms, fn, keep=False)]
    for _ in range(cfg.repeats):
        live = [(ms, fn) for ms, fn in live if _take(ms, fn, keep=True)]


def repeat(
    cfg: RunConfig,
    measurements: Sequence[Measurement],
    sample: Sampler,
    *,
    warmup: bool = True,
) -> None:
    """Run ``sample`` ``cfg.repeats`` times; its i-th figure goes to ``measurements[i]``.

    One warm-up run precedes the samples outside quick mode. An exception marks every
    measurement skipped instead of sinking the whole run (peers are allowed to break).
    """
    if warmup and not cfg.quick and not _take(measurements, sample, keep=False):
        return
    for _ in range(cfg.repeats):
        if not _take(measurements, sample, keep=True):
            return
