"""Inbound email throughput: messages per second through Parley's SMTP server to stored, and to parsed.

    .venv/bin/python bench/email_inbound.py                # 1 MB attachments, then 10 KB mail
    .venv/bin/python bench/email_inbound.py --messages 100 --senders 8 --workers 2

Needs the local PostgreSQL (`--database-url`, database `parley_email_bench` is created,
migrated and flushed) and a Redis for Celery (`--redis-url`). Starts `manage.py run_smtp`
and a Celery worker (`--workers` processes) against that database, then `--senders`
threads each deliver their share of `--messages` mails with smtplib. "Stored" is the SMTP
`250` (raw in storage and the row committed, which the server waits for); "parsed" is every
row reaching `delivered` (parsed, routed, a message in a conversation with its attachment).
Prints a markdown table; every process it starts is stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import die_with_parent, free_port, wait_for_port  # noqa: E402


def mail(to: str, n: int, attachment_bytes: int) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = f"Customer {n} <customer{n}@example.com>"
    message["To"] = to
    message["Subject"] = f"Заказ {n}: zamówienie"
    message["Message-ID"] = f"<bench-{n}-{secrets.token_hex(6)}@example.com>"
    message.set_content(f"Здравствуйте! Dzień dobry! Message {n}.\n\n> quoted history\n")
    message.add_attachment(
        os.urandom(attachment_bytes), maintype="application", subtype="octet-stream", filename=f"Счёт-{n}.bin"
    )
    return message.as_bytes()


def run(env: dict, args, attachment_bytes: int, label: str) -> dict:
    import django

    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.management import call_command
    from django_scopes import scopes_disabled

    from apps.emailbridge.models import InboundEmail
    from tests.factories import TenantFactory

    call_command("flush", "--noinput", verbosity=0)
    with scopes_disabled():
        tenant = TenantFactory(name="Bench", slug="bench")
    to = tenant.inbound_address
    payloads = [mail(to, n, attachment_bytes) for n in range(args.messages)]

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def sender(chunk: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", args.smtp_port, timeout=120) as client:
            for raw in chunk:
                started = time.perf_counter()
                try:
                    client.sendmail("customer@example.com", [to], raw)
                except smtplib.SMTPException as exc:
                    with lock:
                        errors.append(str(exc))
                    continue
                with lock:
                    latencies.append(time.perf_counter() - started)

    chunks = [payloads[i :: args.senders] for i in range(args.senders)]
    threads = [threading.Thread(target=sender, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored_seconds = time.perf_counter() - started
    deadline = time.monotonic() + 600
    delivered = 0
    while time.monotonic() < deadline:
        with scopes_disabled():
            delivered = InboundEmail.objects.filter(status=InboundEmail.Status.DELIVERED).count()
            pending = InboundEmail.objects.filter(status=InboundEmail.Status.RECEIVED).count()
        if pending == 0:
            break
        time.sleep(0.2)
    parsed_seconds = time.perf_counter() - started
    with scopes_disabled():
        failed = InboundEmail.objects.exclude(status=InboundEmail.Status.DELIVERED).count()
    latencies.sort()
    return {
        "label": label,
        "size": len(payloads[0]),
        "messages": args.messages,
        "accepted": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "stored_rate": len(latencies) / stored_seconds,
        "parsed_rate": delivered / parsed_seconds,
        "p50": statistics.median(latencies) * 1000 if latencies else 0,
        "p95": latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else 0,
        "not_delivered": failed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/parley_email_bench")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/4"))
    parser.add_argument("--messages", type=int, default=60)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker concurrency")
    args = parser.parse_args()

    import psycopg

    base, _, name = args.database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    media = tempfile.mkdtemp(prefix="parley-email-bench-")
    env = {
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "CHANNEL_LAYER_PREFIX": "parley_email_bench",
        "PARLEY_MEDIA_ROOT": media,
        "DJANGO_SECRET_KEY": "django-insecure-bench",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL": "0",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LOG_LEVEL": "WARNING",
        "PARLEY_EMAIL_MAX_BYTES": str(30 * 1024 * 1024),
    }
    process_env = {**os.environ, **env}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=process_env, check=True
    )  # noqa: S603
    args.smtp_port = free_port()
    processes = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "run_smtp", "--port", str(args.smtp_port)],
            cwd=ROOT,
            env=process_env,
            preexec_fn=die_with_parent,  # noqa: PLW1509
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--concurrency",
                str(args.workers),
                "--loglevel",
                "WARNING",
                "-Q",
                "celery",
                "-n",
                f"bench-{secrets.token_hex(3)}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=process_env,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        ),
    ]
    try:
        wait_for_port(args.smtp_port, process=processes[0])
        time.sleep(3)  # the worker connects to the broker
        results = [
            run(env, args, 1024 * 1024, "1 MB attachment"),
            run(env, args, 10 * 1024, "10 KB attachment"),
        ]
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    for r in results:
        for error in r["error_samples"]:
            print("error:", error)
    print()
    print(f"SMTP server + Celery worker (concurrency {args.workers}), {args.senders} concurrent SMTP senders")
    print()
    print(
        "| mail | size | messages | accepted | stored/s (SMTP 250) | stored and parsed/s"
        " | SMTP p50 ms | SMTP p95 ms | not delivered |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['label']} | {r['size'] / 1024:.0f} KB | {r['messages']} | {r['accepted']} "
            f"| {r['stored_rate']:.1f} | {r['parsed_rate']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} "
            f"| {r['not_delivered']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
