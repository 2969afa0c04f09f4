"""Celery plumbing shared by every app.

`TransactionAwareTask` (pretix's idea): `.delay()` / `.apply_async()` called inside a
database transaction enqueues the task only after the commit, and not at all after a
rollback, so a worker never looks for a row that is not committed yet (or never will
be). Outside a transaction it enqueues at once. Give it to a task as
`@shared_task(base=TransactionAwareTask)`; callers then just call `.delay()`.
"""

from __future__ import annotations

import functools

from celery import Task
from django.db import transaction


class TransactionAwareTask(Task):
    abstract = True

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None, **options):
        enqueue = functools.partial(
            super().apply_async,
            args=args,
            kwargs=kwargs,
            task_id=task_id,
            producer=producer,
            link=link,
            link_error=link_error,
            **options,
        )
        if transaction.get_connection().in_atomic_block:
            # robust: the broker being down must not turn the committed write into an error.
            transaction.on_commit(enqueue, robust=True)
            return None
        return enqueue()
