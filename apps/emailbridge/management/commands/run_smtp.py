"""`manage.py run_smtp`: Parley's inbound SMTP server (the Procfile's `smtp` process)."""

from __future__ import annotations

import asyncio
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.emailbridge.smtp import smtp_factory


class Command(BaseCommand):
    help = "Receive mail for the tenants' inbound addresses over SMTP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.PARLEY_SMTP_HOST)
        parser.add_argument("--port", type=int, default=settings.PARLEY_SMTP_PORT)

    def handle(self, *args, host: str, port: int, **options):
        asyncio.run(self._serve(host, port))

    async def _serve(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(smtp_factory, host=host, port=port)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write(f"SMTP: listening on {host}:{port} for *@{settings.PARLEY_INBOUND_DOMAIN}", ending="\n")
        self.stdout.flush()
        async with server:
            await stop.wait()
        server.close()
        await server.wait_closed()
