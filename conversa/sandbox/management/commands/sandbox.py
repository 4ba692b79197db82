import os

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from conversa.checks import deployment_errors


class Command(BaseCommand):
    help = "Run the WhatsApp simulator alone (Evolution API v2 protocol and the customer page)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8081)

    def handle(self, *args, host, port, **options):
        # Served whatever SANDBOX_ENABLED says: refused on the same terms as if it were on.
        errors = deployment_errors(sandbox_enabled=True)
        if errors:
            raise CommandError(" ".join(f"{e.id}: {e.msg} {e.hint}" for e in errors))
        settings.ROOT_URLCONF = "conversa.sandbox.standalone_urls"
        # Its pages are for Conversa's members: they sign in on Conversa itself (the session
        # cookie reaches this port of the same host), then come back.
        settings.LOGIN_URL = f"{settings.PUBLIC_URL}/login/"
        settings.INPROCESS_WORKER = False
        if "SANDBOX_URL" not in os.environ:
            settings.SANDBOX_URL = f"http://{host}:{port}/sandbox/evolution"
        self.stdout.write(
            f"Sandbox on http://{host}:{port}/sandbox/ (Evolution API at {settings.SANDBOX_URL})"
        )
        uvicorn.run(
            "conversa.asgi:application", host=host, port=port, lifespan="on", log_level="warning"
        )
