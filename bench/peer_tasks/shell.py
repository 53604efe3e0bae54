"""The job body every peer runs: one shell command in a subprocess, as a queuectl job is."""

from __future__ import annotations

import subprocess
import time


def run_true() -> dict[str, float]:
    """Run ``true`` through ``/bin/sh`` and say when that started and ended (epoch seconds).

    The timestamps go back through the peer's own result store (where it has one) so the
    driver can check the peak concurrency and the start-up delay from the peer's own record.
    """
    start = time.time()
    subprocess.run(["/bin/sh", "-c", "true"], check=False)
    return {"start": start, "end": time.time()}
