"""docker-compose.yml: seed 000's compose commands, the data volume across `down`/`up`, and
the PostgreSQL profile's workers against the machine's PostgreSQL.

Each test is a compose project of its own (COMPOSE_PROJECT_NAME) with a volume of its own
(QUEUECTL_VOLUME), taken down with its volumes afterwards. Both spellings run where they
exist: Debian's docker-compose 1.29 and the `docker compose` plugin.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ..helpers import Cli, Result, wait_for
from .conftest import DOCKER, DOCKER_ENV, ROOT, Docker, unique
from .terminal import Terminal

pytestmark = pytest.mark.docker


def _spelling(name: str) -> list[str] | None:
    """The argv prefix of a compose spelling that works here, if any."""
    if name == "docker-compose":
        exe = shutil.which("docker-compose")
        return [exe] if exe else None
    for client in dict.fromkeys([DOCKER, shutil.which("docker") or DOCKER]):
        probe = subprocess.run([client, "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [client, "compose"]
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Compose:
    def __init__(self, argv: list[str], project: str) -> None:
        self.argv = argv
        self.project = project
        self.volume = f"{project}-data"
        self.env = {**DOCKER_ENV, "COMPOSE_PROJECT_NAME": project, "QUEUECTL_VOLUME": self.volume}

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> Result:
        proc = subprocess.run(
            [*self.argv, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        assert result.code == 0, f"{' '.join(self.argv)} {' '.join(args)} failed: {result}"
        return result

    def queuectl(self, service: str, *args: str) -> Any:
        """`exec -T SERVICE queuectl ARGS --json`, decoded."""
        return json.loads(self("exec", "-T", service, "queuectl", *args, "--json").out)

    def in_terminal(self, *args: str) -> Terminal:
        return Terminal([*self.argv, *args], env=self.env)


@pytest.fixture(params=["docker-compose", "docker compose"])
def compose(request: pytest.FixtureRequest, docker: Docker, image: str) -> Iterator[Compose]:
    argv = _spelling(request.param)
    if argv is None:
        pytest.skip(f"`{request.param}` is not installed here")
    project = Compose(argv, unique("qtest"))
    try:
        yield project
    finally:
        project("--profile", "postgres", "--profile", "web", "down", "-v", "-t", "10")
        docker("volume", "rm", "-f", project.volume, check=False)


def test_every_service_is_valid_and_on_the_host_network(compose: Compose) -> None:
    every = ("--profile", "postgres", "--profile", "web")
    config = compose(*every, "config").out
    services = compose(*every, "config", "--services").out.split()
    assert sorted(services) == ["pg-worker", "postgres", "queuectl", "web"]
    assert config.count("network_mode: host") == 4
    assert f"name: {compose.volume}" in config


def test_seed_000_compose_commands_and_the_data_survives_down_and_up(
    compose: Compose, docker: Docker
) -> None:
    compose("up", "-d")
    term = compose.in_terminal("exec", "queuectl", "queuectl", "enqueue", "echo from compose")
    job_id = term.expect(r"([0-9a-f-]{36})").group(1)
    assert term.wait() == 0
    wait_for(
        lambda: compose.queuectl("queuectl", "show", job_id)["state"] == "completed",
        what="the compose worker to run the job",
    )
    # Seed 000, as typed at a terminal: `docker-compose exec queuectl queuectl list`.
    term = compose.in_terminal("exec", "queuectl", "queuectl", "list")
    term.expect(job_id + r"\s+completed")
    assert term.wait() == 0

    # The store lives in the named volume, not in the container.
    assert docker.json("volume", "inspect", compose.volume)[0]["Name"] == compose.volume
    compose("down", "-t", "30")
    compose("up", "-d")
    jobs = compose.queuectl("queuectl", "list")
    assert [(j["id"], j["state"]) for j in jobs] == [(job_id, "completed")]


def test_postgres_profile_workers_run_jobs_enqueued_on_the_host(
    compose: Compose, pg_url: str, tmp_path: Any
) -> None:
    """The profile's pg-worker service against the machine's PostgreSQL (instead of the
    profile's own server): the host enqueues, the containers run the jobs."""
    host = Cli.fresh(pg_url, tmp_path)
    compose("up", "-d", "pg-worker", env={"QUEUECTL_PG_URL": pg_url})
    # A job runs in the enqueuer's folder unless told otherwise: name one the containers have.
    enqueue = ("enqueue", "echo $((6 * 7))", "--cwd", "/tmp", "--id")
    ids = [host.ok(*enqueue, f"pg-{n}").out.strip() for n in range(4)]
    wait_for(
        lambda: all(host.state(i) == "completed" for i in ids),
        timeout=60,
        what="the containers' workers to run the jobs",
    )
    assert host.ok("logs", "pg-0").out == "42\n"
    workers = host.json("worker", "list")
    assert len(workers) == 2  # QUEUECTL_PG_WORKERS defaults to 2
    # Each attempt was made by one of them: a worker in the container's PID namespace.
    in_container = {w["id"] for w in workers}
    assert all("/pid-" in w["host"] for w in workers)
    for job_id in ids:
        assert host.job(job_id)["history"][-1]["worker_id"] in in_container
    compose("stop", "-t", "30", "pg-worker")
    assert host.json("worker", "list") == []


def test_web_profile_serves_the_dashboard_on_the_shared_volume(compose: Compose) -> None:
    port = free_port()
    compose("up", "-d", "web", env={"QUEUECTL_WEB_PORT": str(port)})
    compose("exec", "-T", "web", "queuectl", "enqueue", "true", "--id", "seen-on-the-web")

    def job() -> Any:
        url = f"http://127.0.0.1:{port}/api/v1/jobs/seen-on-the-web"
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return json.load(reply)
        except OSError:  # not listening yet
            return None

    doc = wait_for(job, timeout=60, what="the dashboard's API")
    assert doc["id"] == "seen-on-the-web" and doc["state"] == "pending"
