"""queuectl: a background job queue for shell commands.

The public API is :class:`Queue`; the CLI is a thin layer over it.
"""

from __future__ import annotations

from .api import Queue, Status
from .config import Config
from .errors import (
    Conflict,
    NotAStore,
    NotFound,
    QueuectlError,
    StoreError,
    StoreUnavailable,
    UsageError,
    ValidationError,
)
from .lifecycle import State
from .models import Attempt, Job, Output, WorkerInfo

__version__ = "0.1.0"

__all__ = [
    "Attempt",
    "Config",
    "Conflict",
    "Job",
    "NotAStore",
    "NotFound",
    "Output",
    "Queue",
    "QueuectlError",
    "State",
    "Status",
    "StoreError",
    "StoreUnavailable",
    "UsageError",
    "ValidationError",
    "WorkerInfo",
    "__version__",
]
