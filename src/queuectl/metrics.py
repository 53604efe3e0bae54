"""Prometheus metrics (SPEC §14): a snapshot of plain numbers, and its text exposition.

The store produces a :class:`Snapshot` (gauges read at scrape time, counters summed from
durable per-minute counts, so they survive restarts, ``delete`` and ``purge``);
:func:`render` writes it with the official client's exposition code, so escaping, number
formatting and histogram layout are Prometheus' own. Labels carry queues, states,
outcomes, hosts, schedule and hook names, never job or worker ids: one series per job
would grow without bound.

The client (about 55 ms to import) is loaded inside :func:`render` only, so the API can
build a snapshot and the rest of the CLI never pays for it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

#: Upper bounds (seconds) of the attempt-duration buckets; a +Inf bucket follows. Shell jobs
#: run from milliseconds to hours, so the bounds spread over that whole range.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600)
#: Exclusive outcomes of an attempt (a timeout counts as timed_out only).
ATTEMPT_OUTCOMES = ("completed", "failed", "timed_out", "worker_lost", "cancelled")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Histogram(NamedTuple):
    """Per-bucket counts, not cumulative (len(DURATION_BUCKETS) + 1, the last for +Inf):
    per-minute rows add up bucket by bucket; :func:`render` accumulates."""

    counts: Sequence[int]
    total: float  # the sum of the observed seconds

    @classmethod
    def empty(cls) -> Histogram:
        return cls((0,) * (len(DURATION_BUCKETS) + 1), 0.0)


class Snapshot(NamedTuple):
    """Every number one scrape shows. Keys are label values, in the order of the labels."""

    jobs: Mapping[tuple[str, str], int]  # (queue, state): jobs now
    ready: Mapping[str, int]  # queue: jobs that could start now
    latency: Mapping[str, float]  # queue: age in seconds of the oldest ready job
    enqueued: Mapping[str, int]  # queue: jobs ever enqueued
    attempts: Mapping[tuple[str, str], int]  # (queue, outcome): attempts ever finished
    dead: Mapping[str, int]  # queue: jobs ever moved to the DLQ
    durations: Mapping[str, Histogram]  # queue: how long finished attempts ran
    workers: Mapping[tuple[str, str], int]  # (host, state): workers now
    cron_fires: Mapping[str, int]  # schedule: jobs ever enqueued by it
    hook_deliveries: Mapping[tuple[str, str], int]  # (hook, outcome): delivery tries
    up: bool = True  # the store answered


def bucket_index(seconds: float) -> int:
    """Which bucket an attempt of ``seconds`` counts in (bounds are inclusive, as ``le``)."""
    return bisect_left(DURATION_BUCKETS, seconds)


# name, type, help, label names, Snapshot field: the one list of what queuectl exports.
_FAMILIES = (
    ("queuectl_jobs", "gauge", "Jobs per queue and state.", ("queue", "state"), "jobs"),
    ("queuectl_queue_ready_jobs", "gauge", "Jobs that could start now.", ("queue",), "ready"),
    (
        "queuectl_queue_latency_seconds",
        "gauge",
        "Age of the oldest job that could start now.",
        ("queue",),
        "latency",
    ),
    ("queuectl_jobs_enqueued_total", "counter", "Jobs enqueued.", ("queue",), "enqueued"),
    (
        "queuectl_attempts_total",
        "counter",
        "Finished attempts by outcome.",
        ("queue", "outcome"),
        "attempts",
    ),
    ("queuectl_jobs_dead_total", "counter", "Jobs moved to the DLQ.", ("queue",), "dead"),
    (
        "queuectl_attempt_duration_seconds",
        "histogram",
        "How long finished attempts ran.",
        ("queue",),
        "durations",
    ),
    ("queuectl_workers", "gauge", "Workers by host and state.", ("host", "state"), "workers"),
    (
        "queuectl_cron_fires_total",
        "counter",
        "Jobs enqueued by a cron schedule.",
        ("schedule",),
        "cron_fires",
    ),
    (
        "queuectl_hook_deliveries_total",
        "counter",
        "Hook delivery tries by outcome.",
        ("hook", "outcome"),
        "hook_deliveries",
    ),
)


def render(snapshot: Snapshot) -> bytes:
    """The Prometheus text exposition (format 0.0.4) of ``snapshot``."""
    from prometheus_client.exposition import generate_latest

    return generate_latest(_Collector(snapshot))


class _Collector:
    """A custom collector: the client's registry protocol over a finished snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.metrics_core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        for name, kind, help_text, labels, field in _FAMILIES:
            values: Mapping[Any, Any] = getattr(self.snapshot, field)
            family: Metric
            if kind == "histogram":
                family = HistogramMetricFamily(name, help_text, labels=labels)
                for key, hist in sorted(values.items()):
                    assert isinstance(hist, Histogram)
                    family.add_metric(_label_values(key), _cumulative(hist), hist.total)
            else:
                factory = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
                family = factory(name, help_text, labels=labels)
                for key, value in sorted(values.items()):
                    family.add_metric(_label_values(key), float(value))
            yield family
        up = GaugeMetricFamily("queuectl_up", "1 if the store answered the scrape.")
        up.add_metric([], 1.0 if self.snapshot.up else 0.0)
        yield up


def _label_values(key: object) -> list[str]:
    return [str(part) for part in key] if isinstance(key, tuple) else [str(key)]


def _cumulative(hist: Histogram) -> list[tuple[str, float]]:
    if len(hist.counts) != len(DURATION_BUCKETS) + 1:
        raise ValueError(f"a duration histogram has {len(DURATION_BUCKETS) + 1} buckets")
    out, running = [], 0
    for bound, count in zip([*map(str, DURATION_BUCKETS), "+Inf"], hist.counts, strict=True):
        running += count
        out.append((bound, float(running)))
    return out
