"""Errors raised by queuectl, and the exit code each one maps to.

    QueuectlError            the operation failed (exit 1)
    ├── UsageError           invalid command-line usage or input (exit 2)
    │   └── ValidationError  a job spec, option or config value was refused
    ├── NotFound             no such job, attempt or key (exit 1)
    ├── Conflict             a duplicate id, or a state that forbids the operation (exit 1)
    ├── MissingExtra         the feature needs a pip extra that is not installed (exit 1)
    └── StoreError           the store cannot be used (exit 1)
        ├── StoreUnavailable the store cannot be opened, reached or written right now
        ├── StoreLost        the store a process opened is gone for good (deleted, replaced,
        │                    truncated, its schema dropped): retrying cannot help
        └── NotAStore        the path exists but is not a queuectl store; it is never touched

An error without a message uses its class docstring, so every subclass is a sentence.
"""

from __future__ import annotations


class QueuectlError(Exception):
    """The operation failed."""

    exit_code = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class UsageError(QueuectlError):
    """Invalid usage."""

    exit_code = 2


class ValidationError(UsageError):
    """Invalid input."""


class NotFound(QueuectlError):
    """Not found."""


class Conflict(QueuectlError):
    """The operation conflicts with the current state."""


class MissingExtra(QueuectlError):
    """A part of queuectl that is not installed was needed."""


class StoreError(QueuectlError):
    """The store cannot be used."""


class StoreUnavailable(StoreError):
    """The store is unavailable."""


class StoreLost(StoreError):
    """The store this process opened is gone."""


class NotAStore(StoreError):
    """The path is not a queuectl store."""


class InvalidTransition(QueuectlError):
    """A job cannot move between these states."""
