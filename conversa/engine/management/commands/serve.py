import os

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand


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
            # Webhooks from the in-process sandbox come back to this very server.
            settings.PUBLIC_URL = f"http://{host}:{port}"
            if "SANDBOX_URL" not in os.environ:
                settings.SANDBOX_URL = f"{settings.PUBLIC_URL}/sandbox/evolution"
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
