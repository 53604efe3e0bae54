"""The image: what it is made of, and queuectl running in it on a shared volume."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from ..helpers import wait_for
from .conftest import CA_BUNDLE, DOCKER, IMAGE, Docker, unique
from .terminal import Terminal

pytestmark = pytest.mark.docker

MB = 1024 * 1024


def test_image_is_slim_runs_as_a_user_and_keeps_the_store_on_data(
    docker: Docker, image: str
) -> None:
    (info,) = docker.json("image", "inspect", image)
    config = info["Config"]
    assert config["User"] == "queuectl"
    assert "QUEUECTL_DB=/data/queuectl.db" in config["Env"]
    assert list(config["Volumes"]) == ["/data"]
    assert config["Cmd"] == ["queuectl", "worker", "start"]
    assert info["Size"] < 200 * MB, f"the image grew to {info['Size'] / MB:.0f} MB"
    out = docker.run("sh", "-c", "id -un; id -u; command -v queuectl; queuectl --version; pwd")
    user, uid, path, version, cwd = out.out.split("\n")[:5]
    assert (user, cwd, path) == ("queuectl", "/data", "/opt/queuectl/bin/queuectl")
    assert uid != "0" and version.startswith("queuectl ")
    # Build-only tools stay in the build stage.
    assert docker.run("sh", "-c", "ls /opt/queuectl/bin").out.split().count("pip") == 0


def test_no_secret_or_host_file_in_any_layer(docker: Docker, image: str, tmp_path: Path) -> None:
    """The CA bundle passed as a build secret, the pip cache, the build context: none of
    them may be in a layer of the image, nor in its recorded history."""
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).out
    assert "BEGIN CERTIFICATE" not in history
    saved = tmp_path / "image.tar"
    docker("save", "-o", str(saved), image, timeout=300)
    secret = CA_BUNDLE.read_bytes() if CA_BUNDLE.is_file() else b""
    secret_hash = hashlib.sha256(secret).hexdigest()
    # The secret's mount point, pip's cache, the build context (/src in the build stage), a
    # store baked into /data, and host folders that must never be sent to the engine.
    forbidden = ("run/secrets/", "root/.cache/", "src/", "tests/", "data/")
    never = ("/.git/", "/.venv/")
    offenders: list[str] = []
    with tarfile.open(saved) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for layer_name in manifest[0]["Layers"]:
            layer = outer.extractfile(layer_name)
            assert layer is not None
            with tarfile.open(fileobj=io.BytesIO(layer.read())) as inner:
                for member in inner:
                    name = member.name.lstrip("./")
                    if name.startswith(forbidden) or any(n in f"/{name}/" for n in never):
                        offenders.append(name)
                    elif secret and member.isfile() and member.size == len(secret):
                        data = inner.extractfile(member)
                        if data and hashlib.sha256(data.read()).hexdigest() == secret_hash:
                            offenders.append(f"{name} (the CA bundle)")
    assert offenders == []


def worker_container(docker: Docker, name: str, volume: str, *env: str) -> None:
    """Start the image's default command (a worker supervisor) in the background."""
    flags = [arg for pair in (("-e", e) for e in env) for arg in pair]
    docker("run", "-d", "--name", name, "--network", "host", "-v", f"{volume}:/data", *flags, IMAGE)
    wait_for(
        lambda: "workers_ready" in docker("logs", name).err,
        timeout=30,
        what=f"the workers in {name} to start",
    )


def job_in(docker: Docker, container: str, job_id: str) -> dict[str, object]:
    shown = docker("exec", container, "queuectl", "show", job_id, "--json").out
    doc: dict[str, object] = json.loads(shown)
    return doc


def test_enqueue_in_one_container_run_in_another_and_keep_the_data(
    docker: Docker, image: str, volume: str, containers: list[str]
) -> None:
    assert (
        docker.run(
            "queuectl", "enqueue", "echo ran-in-docker; id -un", "--id", "first", volume=volume
        ).out
        == "first\n"
    )
    worker = unique("queuectl-worker")
    containers.append(worker)
    worker_container(docker, worker, volume)
    wait_for(lambda: job_in(docker, worker, "first")["state"] == "completed", what="first job")
    logs = docker.run("queuectl", "logs", "first", volume=volume).out
    assert logs == "ran-in-docker\nqueuectl\n"

    # A restart is a graceful shutdown: the job running at that moment finishes first.
    docker.run("queuectl", "enqueue", "sleep 2; echo slow-done", "--id", "slow", volume=volume)
    wait_for(lambda: job_in(docker, worker, "slow")["state"] == "processing", what="slow job")
    docker("restart", "-t", "30", worker, timeout=60)
    slow = job_in(docker, worker, "slow")
    assert (slow["state"], slow["attempts"]) == ("completed", 1)
    assert "supervisor_stopped" in docker("logs", worker).err

    # After the restart the same container works on; then it goes, and the data stays.
    docker.run("queuectl", "enqueue", "true", "--id", "after-restart", volume=volume)
    wait_for(lambda: job_in(docker, worker, "after-restart")["state"] == "completed")
    docker("rm", "-f", worker)
    jobs = json.loads(docker.run("queuectl", "list", "--json", volume=volume).out)
    assert sorted((j["id"], j["state"]) for j in jobs) == [
        ("after-restart", "completed"),
        ("first", "completed"),
        ("slow", "completed"),
    ]


def test_worker_stop_from_another_container(
    docker: Docker, image: str, volume: str, containers: list[str]
) -> None:
    """Containers on the host's network share its host name but not its process ids:
    `worker stop` elsewhere must reach the workers through the store, not by a signal."""
    worker = unique("queuectl-worker")
    containers.append(worker)
    worker_container(docker, worker, volume)
    stopped = docker.run("queuectl", "worker", "stop", "--timeout", "30", volume=volume)
    assert stopped.out.startswith("stopped 1 worker"), stopped
    wait_for(
        lambda: not docker.json("inspect", "--format", "{{json .State}}", worker)["Running"],
        timeout=30,
        what="the worker container to exit",
    )
    state = docker.json("inspect", "--format", "{{json .State}}", worker)
    assert state["ExitCode"] == 0


def test_seed_000_docker_run_it_bash(docker: Docker, image: str, containers: list[str]) -> None:
    """`docker run -it queuectl bash`, then seed 000's two commands at its prompt, typed
    as a person types them (the "!" in double quotes included)."""
    name = unique("queuectl-bash")
    containers.append(name)  # killing a client does not stop its container: clean up by name
    term = Terminal(
        [DOCKER, "run", "-it", "--rm", "--name", name, "--network", "host", IMAGE, "bash"]
    )
    try:
        prompt = r"queuectl@[^:]*:/data\$ "
        term.expect(prompt)
        term.type("""queuectl enqueue "echo 'Hello from Docker!'" """)
        job_id = term.expect(r"\n([0-9a-f-]{36})\n").group(1)
        term.expect(prompt)
        term.type("queuectl list --state pending")
        term.expect(prompt)
        # The image's bash completes queuectl: TAB turns `dl` into `dlq `.
        term.send("queuectl dl\t")
        term.expect("queuectl dlq ")
        term.type("list")
        term.expect("The dead letter queue is empty")
        term.expect(prompt)
        term.type("exit")
        assert term.wait(timeout=30) == 0
    finally:
        term.close()
    listing = term.screen.split("queuectl list --state pending", 1)[1]
    row = next(line for line in listing.splitlines() if job_id in line)
    assert "pending" in row and "echo 'Hello from Docker!'" in row
