"""Fixtures for the image and compose tests: a Docker client, the image built once, and
containers, volumes and compose projects that each test removes again.

Run by `make docker-test` (scripts/docker-test.sh), which provides the engine. On this kind
of machine every `docker build` and `docker run` needs `--network host` (the engine has no
bridge), and pip inside the build needs the machine's CA bundle, handed over as a build
secret so that it never lands in a layer. Both are harmless elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers import Result

ROOT = Path(__file__).resolve().parents[2]
DOCKER = os.environ.get("QUEUECTL_DOCKER", "/usr/bin/docker")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE = "queuectl"  # the tag seed 000 builds and docker-compose.yml runs
DOCKER_ENV = {**os.environ, "DOCKER_BUILDKIT": "1"}


def build_flags() -> list[str]:
    """What this machine adds to a plain `docker build`."""
    flags = ["--network", "host"]
    if CA_BUNDLE.is_file():
        flags += ["--secret", f"id=pip_ca,src={CA_BUNDLE}"]
    return flags


class Docker:
    """The docker client; every call has a deadline."""

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> Result:
        proc = subprocess.run(
            [DOCKER, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=DOCKER_ENV,
            stdin=subprocess.DEVNULL,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check:
            assert result.code == 0, f"docker {' '.join(args)} failed: {result}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args).out)

    def run(self, *args: str, volume: str | None = None, check: bool = True) -> Result:
        """``docker run --rm`` of the image: ``args`` are the command."""
        mount = ["-v", f"{volume}:/data"] if volume else []
        return self("run", "--rm", "--network", "host", *mount, IMAGE, *args, check=check)


@pytest.fixture(scope="session")
def docker() -> Docker:
    client = Docker()
    try:
        probe = client("version", "--format", "{{.Server.Version}}", check=False, timeout=20)
    except FileNotFoundError:
        pytest.skip(f"no Docker client at {DOCKER}; `make docker-test` installs one")
    if probe.code != 0:
        pytest.skip(
            f"no Docker engine answers ({probe.err.strip()}); `make docker-test` starts one"
        )
    return client


@pytest.fixture(scope="session")
def image(docker: Docker) -> str:
    """`docker build -t queuectl .`, seed 000's first command, plus this machine's flags."""
    result = docker("build", *build_flags(), "-t", IMAGE, str(ROOT), timeout=900, check=False)
    assert result.code == 0, result.out[-3000:] + result.err[-3000:]
    return IMAGE


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def volume(docker: Docker) -> Iterator[str]:
    name = unique("queuectl-test")
    yield name
    docker("volume", "rm", "-f", name, check=False)


@pytest.fixture
def containers(docker: Docker) -> Iterator[list[str]]:
    """Names of containers the test starts; each is removed afterwards."""
    names: list[str] = []
    yield names
    if names:
        docker("rm", "-f", *names, check=False, timeout=60)
