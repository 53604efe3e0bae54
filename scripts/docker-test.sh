#!/usr/bin/env bash
# `make docker-test`: build the image and run it for real (tests/docker).
#
# Uses the Docker engine that answers, if one does. Otherwise, as root, it installs what is
# missing (Debian's docker.io, docker-compose, mmdebstrap), starts an engine of its own that
# creates no bridge and touches no firewall (every container then uses the host's network),
# and stops it again at the end, also when a test fails. Without a registry, the base image
# the Dockerfile names is made locally with mmdebstrap. It skips, saying why, only where no
# engine can run at all.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's 20.10 client: BuildKit is built in (a newer client on PATH may lack buildx).
DOCKER=${QUEUECTL_DOCKER:-/usr/bin/docker}
BASE=$(awk '$1 == "FROM" && $2 !~ /^(runtime|build)$/ { print $2; exit }' Dockerfile)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
PYTHON=${PYTHON:-.venv/bin/python}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/queuectl-docker-test.XXXXXX")
DOCKERD_PID=""
T0=$SECONDS

say() { printf 'docker-test: %s\n' "$*" >&2; }
skip() {
    say "SKIPPED: $* (no Docker engine can run here)"
    exit 0
}
answers() { "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

stop_engine() {
    local code=$?
    if [ -n "$DOCKERD_PID" ]; then
        say "stopping the engine (pid $DOCKERD_PID)"
        kill -TERM "$DOCKERD_PID" 2>/dev/null || true
        for _ in $(seq 300); do
            kill -0 "$DOCKERD_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$DOCKERD_PID" 2>/dev/null; then
            say "the engine ignored SIGTERM for 30 s; killing it"
            kill -KILL "$DOCKERD_PID" 2>/dev/null || true
        fi
        wait "$DOCKERD_PID" 2>/dev/null || true
        # dockerd mounts this itself and leaves it behind; unmounted, a later start is clean.
        if mountpoint -q /run/docker/netns/default 2>/dev/null; then
            umount /run/docker/netns/default || true
        fi
    fi
    rm -rf "$WORK"
    say "finished in $((SECONDS - T0)) s"
    exit "$code"
}
trap stop_engine EXIT

# The engine, its socket and /var/lib/docker are one per machine: one run at a time.
exec 9>"${TMPDIR:-/tmp}/queuectl-docker-test.lock"
flock -w 1800 9

apt_install() { # apt_install COMMAND:PACKAGE...: install the packages whose command is missing
    local -a need=()
    local pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || skip "missing ${need[*]} and no apt-get to install them"
    say "installing ${need[*]}"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${need[@]}"; } >"$WORK/apt.log" 2>&1 ||
        { cat "$WORK/apt.log" >&2; exit 1; }
}

start_engine() {
    [ "$(id -u)" = 0 ] || skip "no engine answers at $DOCKER and starting one needs root"
    unshare --pid --mount --net --fork true 2>/dev/null ||
        skip "this kernel or sandbox refuses the namespaces a container needs"
    local pidfile=/var/run/docker.pid
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        rm -f "$pidfile" # left by an engine that was killed
    fi
    say "starting an engine (no bridge, no firewall rules; containers use the host network)"
    dockerd --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
        >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 600); do
        answers && return 0
        if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            DOCKERD_PID=""
            tail -20 "$WORK/dockerd.log" >&2
            say "the engine exited during start-up (its log is above)"
            exit 1
        fi
        sleep 0.1
    done
    tail -20 "$WORK/dockerd.log" >&2
    say "the engine did not answer within 60 s"
    exit 1
}

make_base_image() {
    "$DOCKER" image inspect "$BASE" >/dev/null 2>&1 && return 0
    apt_install mmdebstrap:mmdebstrap
    local suite=${BASE#*:}
    suite=${suite%-slim}
    say "making $BASE locally with mmdebstrap (no registry needed)"
    # The same trimming as Docker Hub's slim images: no manuals, docs or translations.
    mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        "$suite" - "deb $MIRROR $suite main" "deb $MIRROR $suite-updates main" \
        "deb $SECURITY_MIRROR $suite-security main" 2>"$WORK/mmdebstrap.log" |
        "$DOCKER" import --change 'CMD ["bash"]' - "$BASE" >/dev/null ||
        { cat "$WORK/mmdebstrap.log" >&2; exit 1; }
}

[ "$(uname -s)" = Linux ] || skip "containers need Linux, this is $(uname -s)"
apt_install "$DOCKER:docker.io" dockerd:docker.io docker-compose:docker-compose
answers || start_engine
say "engine $("$DOCKER" version --format '{{.Server.Version}}') ready after $((SECONDS - T0)) s"
make_base_image
say "base image $BASE ready after $((SECONDS - T0)) s"

T1=$SECONDS
QUEUECTL_DOCKER=$DOCKER "$PYTHON" -m pytest -m docker -n 0 -p no:cacheprovider tests/docker \
    ${PYTEST_ARGS:-}
say "tests took $((SECONDS - T1)) s"
