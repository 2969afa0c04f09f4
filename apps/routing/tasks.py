"""Celery tasks of routing: thin, each calls one sweeper (which is idempotent and lock-safe)."""

from __future__ import annotations

from celery import shared_task

from . import sweeps


@shared_task(name="routing.sweep", ignore_result=True, soft_time_limit=20, time_limit=30)
def sweep() -> dict[str, int]:
    return sweeps.sweep_all()


@shared_task(name="routing.presence_audit", ignore_result=True, soft_time_limit=20, time_limit=30)
def presence_audit() -> int:
    return sweeps.presence_audit()
