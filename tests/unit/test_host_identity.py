"""Which workers count as "on this host": those whose process ids we can see and signal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from queuectl.host import hostname

NAME = "from queuectl.host import hostname; print(hostname())"


def test_a_pid_namespace_of_its_own_is_a_host_of_its_own() -> None:
    """A container on the host's network has the host's name but not its processes."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1) to make a PID namespace with")
    proc = subprocess.run(
        [unshare, "--pid", "--fork", sys.executable, "-c", NAME],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip(f"cannot make a PID namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    inside = proc.stdout.strip()
    assert inside.startswith(f"{os.uname().nodename}/pid-")
    assert inside != hostname()


def test_the_override_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUECTL_HOSTNAME", "box-7")
    assert hostname() == "box-7"
