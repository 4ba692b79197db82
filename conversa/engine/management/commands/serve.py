import os

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError

from conversa.numbers import webhooks


class Command(BaseCommand):
    help = (
        "Serve the web app (ASGI) with the in-process worker and the sandbox, unless told not to."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="run no in-process worker")
        parser.add_argument(
            "--processes", type=int, default=1, help="web processes sharing the port (PostgreSQL)"
        )

    def handle(self, *args, host, port, no_worker, processes, **options):
        settings.INPROCESS_WORKER = not no_worker
        if "CONVERSA_PUBLIC_URL" not in os.environ:
            # Webhooks from the in-process sandbox come back to this very server (on a wildcard
            # address, through the loopback).
            reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
            settings.PUBLIC_URL = f"http://{reachable}:{port}"
            if "SANDBOX_URL" not in os.environ:
                settings.SANDBOX_URL = f"{settings.PUBLIC_URL}/sandbox/evolution"
            # --processes starts fresh interpreters, which read these from the environment.
            os.environ["CONVERSA_PUBLIC_URL"] = settings.PUBLIC_URL
            os.environ["SANDBOX_URL"] = settings.SANDBOX_URL
        try:
            webhooks.align_sandbox_webhooks()
        except DatabaseError as exc:
            # Not migrated yet: there is no sandbox number to point anywhere.
            self.stderr.write(f"sandbox webhooks not checked: {exc}")
        self.stdout.write(
            f"Conversa on http://{host}:{port} (worker: {'off' if no_worker else 'in-process'})"
        )
        uvicorn.run(
            "conversa.asgi:application",
            host=host,
            port=port,
            lifespan="on",
            log_level=os.environ.get("UVICORN_LOG_LEVEL", "warning"),
            proxy_headers=True,
            workers=processes,
        )
