"""What a person may do to jobs from the dashboard: per job, on a selection, on a filter.

Each action is a ``Queue`` method that takes ids and answers ``ActionResult`` (done ids, and
skipped ids with the reason), in one short transaction. ``ACTIONS`` is the one list the pages,
the forms and the API read: an action added here gets its buttons and its routes.
(Cancel, pause, resume and delete join it when ``Queue`` has them.)

On a filter, an action runs in batches: it pages through the matching jobs by key and applies
itself to each page, so no transaction is long, and claims go on between batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from ..api import Queue
from ..errors import NotFound
from ..lifecycle import Event, State, sources
from ..models import ActionResult, JobFilter, Page
from .pool import QueuePool

BATCH = 500  # jobs per transaction of a bulk action


class Action(NamedTuple):
    name: str
    label: str  # the button's text
    states: frozenset[State]  # the states it applies to (buttons show on these only)
    run: Callable[[Queue, list[str]], ActionResult]
    confirm: str | None = None  # a question to ask first, for what cannot be undone


ACTIONS: dict[str, Action] = {
    a.name: a for a in [Action("retry", "Retry", sources(Event.REVIVE), Queue.retry)]
}


def get(name: str) -> Action:
    action = ACTIONS.get(name)
    if action is None:
        choices = ", ".join(ACTIONS)
        raise NotFound(f"no action {name!r} (available: {choices})")
    return action


def available(state: State) -> list[Action]:
    """The actions a job in ``state`` offers."""
    return [a for a in ACTIONS.values() if state in a.states]


def applying(action: Action, ids: list[str]) -> Callable[[Queue], ActionResult]:
    return lambda q: action.run(q, ids)


def reading(where: JobFilter, cursor: str | None) -> Callable[[Queue], Page]:
    return lambda q: q.page(where, limit=BATCH, cursor=cursor)


def on_ids(pool: QueuePool, action: Action, ids: Iterable[str]) -> ActionResult:
    wanted = list(dict.fromkeys(ids))
    result = ActionResult([], [])
    for start in range(0, len(wanted), BATCH):
        result = result.merged(pool.call(applying(action, wanted[start : start + BATCH])))
    return result


def on_filter(pool: QueuePool, action: Action, where: JobFilter) -> ActionResult:
    """Apply ``action`` to every job that matches ``where`` now, a batch at a time.

    Only the states the action applies to are read (a retry of "everything in queue ci"
    reads the dead jobs of ci). Jobs that arrive while it runs are newer than where it
    started, so the walk ends.
    """
    result = ActionResult([], [])
    states = [where.state] if where.state is not None else sorted(action.states)
    for state in states:
        if state not in action.states:
            continue
        part = where._replace(state=state)
        cursor: str | None = None
        while True:
            page = pool.call(reading(part, cursor))
            if page.jobs:
                result = result.merged(pool.call(applying(action, [j.id for j in page.jobs])))
            if page.next is None:
                break
            cursor = page.next
    return result


def summary(name: str, result: ActionResult) -> str:
    text = f"{name}: {len(result.done)} done"
    if result.skipped:
        job_id, reason = result.skipped[0]
        more = f" and {len(result.skipped) - 1} more" if len(result.skipped) > 1 else ""
        text += f", {len(result.skipped)} skipped ({job_id}: {reason}{more})"
    return text
