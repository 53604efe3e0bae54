"""Which host this process is on, as workers register it and `worker stop` compares it.

Its own small module: the worker and the CLI need it on either store, and neither should
load a store backend for it.
"""

from __future__ import annotations

import os

INITIAL_PID_NAMESPACE = 0xEFFFFFFC  # the inode Linux gives the first PID namespace


def hostname() -> str:
    """This host's name as workers register it (``QUEUECTL_HOSTNAME`` overrides it).

    "This host" means: the processes whose ids a command can see and signal. A container on
    the host's network carries the host's name but has PID namespace of its own, so outside
    the first PID namespace the name gets that namespace's id (``box/pid-4026532177``), and
    containers reach each other's workers through the store, as separate machines do.
    """
    name = os.environ.get("QUEUECTL_HOSTNAME")
    if name:
        return name
    name = os.uname().nodename
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # not Linux, or no /proc
        return name
    return name if namespace == INITIAL_PID_NAMESPACE else f"{name}/pid-{namespace}"
