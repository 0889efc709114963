"""Counters, gauges and histograms rendered in the Prometheus text format (no client library).

Example:
    >>> r = Registry()
    >>> c = r.counter("demo_requests_total", "Requests.", ("endpoint",))
    >>> c.inc(endpoint="/search"); c.inc(2, endpoint="/search")
    >>> h = r.histogram("demo_batch", "Batch sizes.", buckets=(1, 4))
    >>> h.observe(3)
    >>> print(r.render())
    # HELP demo_requests_total Requests.
    # TYPE demo_requests_total counter
    demo_requests_total{endpoint="/search"} 3
    # HELP demo_batch Batch sizes.
    # TYPE demo_batch histogram
    demo_batch_bucket{le="1"} 0
    demo_batch_bucket{le="4"} 1
    demo_batch_bucket{le="+Inf"} 1
    demo_batch_sum 3
    demo_batch_count 1
    <BLANKLINE>
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence

__all__ = ["Registry", "Counter", "Gauge", "Histogram", "LATENCY_BUCKETS", "BATCH_BUCKETS"]

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{v}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labels: Sequence[str] = ()):
        self.name, self.help, self.label_names = name, help, tuple(labels)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        return tuple(str(labels.get(n, "")) for n in self.label_names)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def render(self) -> list[str]:
        """The metric's lines in the Prometheus text format."""
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help: str, labels: Sequence[str] = ()):
        super().__init__(name, help, labels)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0)

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return self.header() + [
            f"{self.name}{_labels(self.label_names, k)} {_num(v)}" for k, v in items
        ]


class Gauge(Counter):
    """A value set now, or read from a callback when rendered."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        help: str,
        labels: Sequence[str] = (),
        fn: Callable[[], float] | None = None,
    ):
        super().__init__(name, help, labels)
        self.fn = fn

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[self._key(labels)] = value

    def render(self) -> list[str]:
        if self.fn is not None:
            self.set(float(self.fn()))
        return super().render()


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ):
        super().__init__(name, help, labels)
        self.buckets = tuple(sorted(buckets))
        self._data: dict[
            tuple[str, ...], list[float]
        ] = {}  # per label set: bucket counts..., +Inf, sum

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        i = bisect.bisect_left(self.buckets, value)
        with self._lock:
            d = self._data.get(key)
            if d is None:
                d = self._data[key] = [0.0] * (len(self.buckets) + 2)
            d[i] += 1
            d[-1] += value

    def count(self, **labels: str) -> int:
        d = self._data.get(self._key(labels))
        return int(sum(d[:-1])) if d else 0

    def render(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._data.items())
        out = self.header()
        for key, d in items:
            cum = 0.0
            for b, n in zip((*self.buckets, float("inf")), d[:-1], strict=True):
                cum += n
                le = 'le="+Inf"' if b == float("inf") else f'le="{_num(b)}"'
                out.append(f"{self.name}_bucket{_labels(self.label_names, key, le)} {_num(cum)}")
            out.append(f"{self.name}_sum{_labels(self.label_names, key)} {_num(d[-1])}")
            out.append(f"{self.name}_count{_labels(self.label_names, key)} {_num(cum)}")
        return out


class Registry:
    """The metrics of one server, in registration order."""

    def __init__(self) -> None:
        self._metrics: list[_Metric] = []

    def _add(self, m: _Metric) -> _Metric:
        self._metrics.append(m)
        return m

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, help, labels))  # type: ignore[return-value]

    def gauge(
        self,
        name: str,
        help: str,
        labels: Sequence[str] = (),
        fn: Callable[[], float] | None = None,
    ) -> Gauge:
        return self._add(Gauge(name, help, labels, fn))  # type: ignore[return-value]

    def histogram(
        self,
        name: str,
        help: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return self._add(Histogram(name, help, labels, buckets))  # type: ignore[return-value]

    def render(self) -> str:
        return "\n".join(line for m in self._metrics for line in m.render()) + "\n"
