"""Metric families rendered straight to text, and the encoder that renders a scrape.

prometheus-client's encoders spend several microseconds per sample (a dict of labels, escaping
and float formatting for each); a system of 1,000 actors exports ~60,000 samples. Our families
keep their series in flat columns and render themselves in one pass, in the Prometheus text format
(0.0.4) or OpenMetrics 1.0. They are still ordinary :class:`~prometheus_client.Metric` objects:
anything else that reads ``samples`` (another exporter, a test) gets them built on demand.
Families of other collectors in the same registry are rendered by prometheus-client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, islice
from operator import add

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from ..actors._stats import BUCKETS
from ._catalog import MetricSpec

Labels = tuple[tuple[str, str], ...]
#: ``le`` label values of a histogram over :data:`~letta_actors.actors.BUCKETS` (the last is
#: ``+Inf``), formatted once the way prometheus-client formats them.
LE: tuple[str, ...] = (*(floatToGoString(b) for b in BUCKETS), "+Inf")  # type: ignore[no-untyped-call]
Encoder = Callable[[Collector], bytes]


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _labels_text(labels: Labels) -> str:
    return ",".join([f'{k}="{_escape(v)}"' for k, v in labels])


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


class Family(Metric):
    """One family of ours, in columns: ``labels[i]`` is the label set of series ``i``.

    A plain family holds one value per series in ``values``. A histogram family (``le`` holds
    the formatted bucket bounds) holds ``len(le)`` non-cumulative bucket counts per series in
    ``values``, one after the other (the last bucket is +Inf), and one sum per series in
    ``sums``; the counts are made cumulative when rendered. Columns are flat lists of numbers,
    not a tuple per series: a scrape of 10,000 actors leaves nothing behind for the garbage
    collector to trace (a tuple per sample would trigger full collections, which stop the loop).
    """

    def __init__(self, spec: MetricSpec, le: tuple[str, ...] = ()) -> None:
        self._materialised: list[Sample] | None = None
        super().__init__(spec.family, spec.help, spec.kind)
        self.sample_name = spec.name
        self.le = le
        self.labels: Sequence[Labels] = ()
        self.values: Sequence[float] = ()
        self.sums: Sequence[float] = ()

    def set_rows(self, rows: Iterable[tuple[Labels, float]]) -> None:
        """Set the series of a plain family from ``(labels, value)`` pairs."""
        pairs = list(rows)
        self.labels = [labels for labels, _ in pairs]
        self.values = [value for _, value in pairs]

    @property
    def samples(self) -> list[Sample]:
        if self._materialised is None:
            self._materialised = self._build_samples()
        return self._materialised

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        # Metric.__init__ assigns []; anything assigned later replaces the columns.
        self._materialised = value if value else None

    def size(self) -> int:
        """How many samples this family renders (without building them)."""
        if self._materialised is not None:
            return len(self._materialised)
        return len(self.labels) * (len(self.le) + 2 if self.le else 1)

    def _histograms(self) -> Iterator[tuple[Labels, Iterator[float], float]]:
        """``(labels, cumulative bucket counts, sum)`` of each series of a histogram family."""
        if len(self.values) != len(self.labels) * len(self.le):
            raise ValueError(
                f"{len(self.values)} bucket counts for {len(self.labels)} series of "
                f"{len(self.le)} buckets"
            )
        counts = iter(self.values)
        n = len(self.le)
        for labels, total in zip(self.labels, self.sums, strict=True):
            yield labels, accumulate(islice(counts, n)), total

    def _build_samples(self) -> list[Sample]:
        out: list[Sample] = []
        name = self.sample_name
        if not self.le:
            for labels, value in zip(self.labels, self.values, strict=True):
                out.append(Sample(name, dict(labels), value))
            return out
        for labels, cumulative, total in self._histograms():
            base = dict(labels)
            numbers = list(cumulative)
            for le, n in zip(self.le, numbers, strict=True):
                out.append(Sample(name + "_bucket", {**base, "le": le}, n))
            out.append(Sample(name + "_count", base, numbers[-1]))
            out.append(Sample(name + "_sum", base, total))
        return out

    def render(
        self, out: list[str], openmetrics: bool, texts: dict[Labels, str] | None = None
    ) -> None:
        """Append this family in the text format (``openmetrics=False``) or OpenMetrics.

        ``texts`` memoises the rendered label sets; the families of one scrape share it (each
        actor's labels appear in most of them).
        """
        if self._materialised is not None:
            raise RuntimeError("series were replaced; render with prometheus-client")
        if texts is None:
            texts = {}
        name = self.sample_name
        header = self.name if openmetrics else name
        help_text = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        if openmetrics:
            help_text = help_text.replace('"', r"\"")
        out.append(f"# HELP {header} {help_text}\n# TYPE {header} {self.type}\n")
        if not self.le:
            for labels, value in zip(self.labels, self.values, strict=True):
                if labels:
                    text = texts.get(labels)
                    if text is None:
                        text = texts[labels] = _labels_text(labels)
                    out.append(f"{name}{{{text}}} {_number(value)}\n")
                else:
                    out.append(f"{name} {_number(value)}\n")
            return
        bucket, count, sum_ = name + "_bucket", name + "_count", name + "_sum"
        le_parts = [f'le="{le}"}} ' for le in self.le]
        for labels, cumulative, total in self._histograms():
            base = texts.get(labels)
            if base is None:
                base = texts[labels] = _labels_text(labels)
            prefix = f"{bucket}{{{base}," if base else f"{bucket}{{"
            numbers = list(map(str, cumulative))
            out.append(prefix + ("\n" + prefix).join(map(add, le_parts, numbers)) + "\n")
            suffix = f"{{{base}}}" if base else ""
            out.append(f"{count}{suffix} {numbers[-1]}\n{sum_}{suffix} {_number(total)}\n")


def encode(families: Iterable[Metric], encoder: Encoder, openmetrics: bool) -> bytes:
    """Render ``families``: ours directly, others with prometheus-client's ``encoder``."""
    out: list[str] = []
    texts: dict[Labels, str] = {}
    for family in families:
        if isinstance(family, Family) and family._materialised is None:
            family.render(out, openmetrics, texts)
        else:
            text = encoder(_One(family)).decode("utf-8")
            if openmetrics:
                text = text.removesuffix("# EOF\n")
            out.append(text)
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out).encode("utf-8")


class _One:
    __slots__ = ("_family",)

    def __init__(self, family: Metric) -> None:
        self._family = family

    def collect(self) -> Iterable[Metric]:
        return (self._family,)
