"""The metrics exposition (SPEC §14), checked by Prometheus' own promtool.

promtool is found on PATH or fetched by scripts/get-promtool (Debian's `prometheus`
package, the binary only). Where it cannot be had, its tests are skipped with the reason
and only prometheus_client's parser checks the output; the test ids say which checker ran.
CI sets QUEUECTL_REQUIRE_PROMTOOL=1, which turns a missing promtool into a failure.
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from queuectl.metrics import DURATION_BUCKETS, Histogram, Snapshot, bucket_index, render

REQUIRE_PROMTOOL = os.environ.get("QUEUECTL_REQUIRE_PROMTOOL", "") == "1"
GET_PROMTOOL = Path(__file__).resolve().parents[2] / "scripts" / "get-promtool"

#: The metric names SPEC §14 asks for at least.
REQUIRED = {
    "queuectl_jobs",
    "queuectl_queue_ready_jobs",
    "queuectl_queue_latency_seconds",
    "queuectl_jobs_enqueued_total",
    "queuectl_attempts_total",
    "queuectl_jobs_dead_total",
    "queuectl_attempt_duration_seconds",
    "queuectl_workers",
    "queuectl_cron_fires_total",
    "queuectl_hook_deliveries_total",
    "queuectl_up",
}


@functools.cache
def promtool() -> str | None:
    run = subprocess.run([str(GET_PROMTOOL)], capture_output=True, text=True, timeout=600)
    return run.stdout.strip() if run.returncode == 0 else None


def check_with_promtool(text: bytes) -> None:
    tool = promtool()
    if tool is None:
        reason = "promtool could not be found or fetched (scripts/get-promtool)"
        if REQUIRE_PROMTOOL:
            pytest.fail(f"{reason} (QUEUECTL_REQUIRE_PROMTOOL=1)", pytrace=False)
        pytest.skip(f"{reason}; prometheus_client's parser checked the output instead")
    run = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    # promtool exits 0 only when the text parses and lints clean (names, HELP, counters).
    assert (run.returncode, run.stdout + run.stderr) == (0, b""), text.decode()


def check_with_parser(text: bytes) -> None:
    families = list(text_string_to_metric_families(text.decode()))
    assert {f.name for f in families} >= {n.removesuffix("_total") for n in REQUIRED}


CHECKERS = {"promtool": check_with_promtool, "prometheus_client-parser": check_with_parser}


def busy() -> Snapshot:
    return Snapshot(
        jobs={("default", "pending"): 3, ("default", "completed"): 10, ("mail", "dead"): 1},
        ready={"default": 3, "mail": 0},
        latency={"default": 1.5, "mail": 0.0},
        enqueued={"default": 13, "mail": 1},
        attempts={("default", "completed"): 10, ("default", "timed_out"): 2, ("mail", "failed"): 3},
        dead={"mail": 1},
        durations={"default": Histogram((4, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 3605.25)},
        workers={("web-1", "busy"): 2, ("web-1", "idle"): 2},
        cron_fires={"nightly": 4},
        hook_deliveries={("slack", "delivered"): 3, ("slack", "failed"): 1},
    )


EMPTY = Snapshot({}, {}, {}, {}, {}, {}, {}, {}, {}, {})
# Label values come from users (queue, host and hook names): quotes, backslashes, newlines
# and non-ASCII must be escaped, not break the format.
AWKWARD = EMPTY._replace(
    workers={('host "a"\\b\nc', "busy"): 1},
    hook_deliveries={("crème brûlée", "delivered"): 1},
    jobs={("q.1:@-", "pending"): 1},
)


@pytest.mark.parametrize("checker", CHECKERS)
@pytest.mark.parametrize("snapshot", [busy(), EMPTY, AWKWARD], ids=["busy", "empty", "awkward"])
def test_the_exposition_validates(checker: str, snapshot: Snapshot) -> None:
    CHECKERS[checker](render(snapshot))


def samples(snapshot: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(render(snapshot).decode())
        for s in family.samples
    }


def test_the_numbers_come_through() -> None:
    got = samples(busy())
    assert got[("queuectl_jobs", (("queue", "default"), ("state", "pending")))] == 3
    assert got[("queuectl_attempts_total", (("outcome", "timed_out"), ("queue", "default")))] == 2
    assert got[("queuectl_queue_latency_seconds", (("queue", "default"),))] == 1.5
    assert got[("queuectl_workers", (("host", "web-1"), ("state", "idle")))] == 2
    assert got[("queuectl_cron_fires_total", (("schedule", "nightly"),))] == 4
    assert got[("queuectl_up", ())] == 1
    assert samples(EMPTY._replace(up=False)) == {("queuectl_up", ()): 0}


def test_the_histogram_is_cumulative() -> None:
    got = samples(busy())
    le = {k[1][0][1]: v for k, v in got.items() if k[0].endswith("_bucket")}
    assert le["0.05"] == 4 and le["0.25"] == 6 and le["3600"] == 6 and le["+Inf"] == 7
    queue = (("queue", "default"),)
    assert got[("queuectl_attempt_duration_seconds_count", queue)] == 7
    assert got[("queuectl_attempt_duration_seconds_sum", queue)] == 3605.25
    with pytest.raises(ValueError, match="buckets"):
        render(EMPTY._replace(durations={"q": Histogram((1, 2), 3.0)}))


def test_labels_never_name_a_job_or_a_worker() -> None:
    names = {label for (_, labels) in samples(busy()) for label, _ in labels}
    assert names == {"queue", "state", "outcome", "host", "schedule", "hook", "le"}


@pytest.mark.parametrize(
    ("seconds", "bound"), [(0.0, 0.05), (0.05, 0.05), (0.051, 0.1), (3600, 3600), (3601, math.inf)]
)
def test_bucket_index(seconds: float, bound: float) -> None:
    bounds = [*DURATION_BUCKETS, math.inf]
    assert bounds[bucket_index(seconds)] == bound
    assert len(Histogram.empty().counts) == len(bounds)
