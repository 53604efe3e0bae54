# queuectl in a container: the CLI and its workers, the SQLite store on the /data volume.
#
#   docker build -t queuectl .
#   docker run -it -v queuectl-data:/data queuectl bash
#
# The image carries the extras too (build arg EXTRAS, default "postgres,web"), so the same
# image runs workers against `--db postgresql://...` and serves `queuectl web`.
# Behind a TLS-inspecting proxy, hand pip its CA bundle as a build secret; a secret is
# mounted for one RUN only and never lands in a layer:
#   DOCKER_BUILDKIT=1 docker build --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt -t queuectl .

FROM debian:bookworm-slim AS runtime
# tini runs as PID 1: it forwards `docker stop`'s SIGTERM to queuectl (graceful shutdown)
# and reaps the orphans that jobs' background children leave behind.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 tini \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

FROM runtime AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv
COPY pyproject.toml README.md /src/
COPY src /src/src
ARG EXTRAS=postgres,web
RUN --mount=type=secret,id=pip_ca --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    python3 -m venv /opt/queuectl \
    && /opt/queuectl/bin/pip install --disable-pip-version-check "/src[${EXTRAS}]" \
    && /opt/queuectl/bin/pip uninstall -y -q pip setuptools

FROM runtime
LABEL org.opencontainers.image.title="queuectl" \
      org.opencontainers.image.description="A background job queue for shell commands" \
      org.opencontainers.image.licenses="MIT"
RUN useradd --uid 10001 --user-group --create-home --shell /bin/bash queuectl \
    && install -d -o queuectl -g queuectl -m 0750 /data
COPY --from=build /opt/queuectl /opt/queuectl
ENV PATH=/opt/queuectl/bin:$PATH \
    QUEUECTL_DB=/data/queuectl.db
# Interactive bash in the image: queuectl completes on TAB, and history expansion is off,
# so a "!" inside double quotes (seed 000's "Hello from Docker!") runs as typed.
RUN queuectl completion bash > /etc/queuectl-completion.bash \
    && printf '%s\n' 'set +H' '. /etc/queuectl-completion.bash' >> /etc/bash.bashrc
VOLUME /data
WORKDIR /data
USER queuectl
ENTRYPOINT ["/usr/bin/tini", "--"]
# A foreground supervisor keeps the container up; `docker run ... queuectl list` and
# `docker run -it queuectl bash` replace it.
CMD ["queuectl", "worker", "start"]
