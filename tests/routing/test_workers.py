"""Timers with real Celery processes on PostgreSQL: beat runs the sweeper, workers act on it.

A worker killed outright before a deadline loses nothing (the deadline is a column, the next
worker's sweep finds it), and with two workers sweeping at once the retention phrase is still
posted exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_scopes import scopes_disabled

from apps.conversations import services as conversation_services
from apps.conversations.models import Message
from apps.routing.models import RoutingSettings
from tests import factories
from tests.processes import parley_env, stop_process

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def worker(tmp_path, name: str, *, beat: bool) -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = parley_env(
        DATABASE_URL=url,
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_TASK_ALWAYS_EAGER="0",
        PARLEY_ROUTING_SWEEP_SECONDS="0.5",
        DATABASE_POOL="0",
    )
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        "solo",
        "-n",
        f"{name}@%h",
        "--loglevel",
        "WARNING",
    ]
    if beat:
        argv += ["-B", "--schedule", str(tmp_path / f"{name}-beat")]
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def retention_messages(conversation) -> int:
    with scopes_disabled():
        return Message.objects.filter(conversation=conversation, data__event="retention").count()


def test_a_killed_workers_timer_fires_after_restart_and_two_workers_fire_it_once(tmp_path, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with scopes_disabled():
        tenant = factories.TenantFactory(slug="timers")
        RoutingSettings.objects.create(tenant=tenant, retention_seconds=5)
        visitor = factories.VisitorFactory(tenant=tenant)
    # Purge what an earlier run may have left in the broker's queue.
    from config.celery import app

    app.control.purge()
    conversation = conversation_services.conversation_start(tenant=tenant, visitor=visitor)

    doomed = worker(tmp_path, "doomed", beat=True)
    time.sleep(3)
    os.kill(doomed.pid, signal.SIGKILL)  # no shutdown, no cleanup: as if the machine died
    doomed.wait(10)
    assert retention_messages(conversation) == 0  # not due yet when it died

    first, second = worker(tmp_path, "first", beat=True), worker(tmp_path, "second", beat=False)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and retention_messages(conversation) == 0:
            time.sleep(0.5)
        assert retention_messages(conversation) == 1, (tmp_path / "first.log").read_text()[-2000:]
        time.sleep(3)  # several more sweeps by both workers
        assert retention_messages(conversation) == 1
    finally:
        stop_process(first)
        stop_process(second)


def test_a_new_chat_is_routed_by_a_worker_not_by_the_caller(tmp_path, settings):
    from apps.routing.models import QueueEntry
    from apps.routing.presence import presence_set
    from config.celery import app

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with scopes_disabled():
        tenant = factories.TenantFactory(slug="routed-by-worker")
        operator = factories.MembershipFactory(tenant=tenant, role="operator")
        visitor = factories.VisitorFactory(tenant=tenant)
    presence_set(tenant=tenant, membership=operator, status="online")
    app.control.purge()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # this process only enqueues, as daphne does
    try:
        conversation = conversation_services.conversation_start(tenant=tenant, visitor=visitor)
    finally:
        app.conf.task_always_eager = eager
    with scopes_disabled():
        assert not QueueEntry.objects.filter(conversation=conversation).exists()  # the caller did not route it
    routing_worker = worker(tmp_path, "router", beat=False)  # no beat: the task, not the sweep
    try:
        deadline = time.monotonic() + 30
        offered = None
        while time.monotonic() < deadline and offered is None:
            time.sleep(0.3)
            with scopes_disabled():
                offered = (
                    QueueEntry.objects.filter(conversation=conversation).values_list("offered_to", flat=True).first()
                )
        assert offered == operator.pk, (tmp_path / "router.log").read_text()[-2000:]
    finally:
        stop_process(routing_worker)
