from django.core.management.base import BaseCommand

from conversa.demo import OWNER_EMAIL, load_demo


class Command(BaseCommand):
    help = "Load the demo organization (once): members, a connected sandbox number, chats."

    def add_arguments(self, parser):
        parser.add_argument(
            "--always-open",
            action="store_true",
            help="Open around the clock: the SLA clocks never pause, and the assistant (which "
            "answers outside business hours) never answers on its own.",
        )

    def handle(self, *args, **options):
        result = load_demo(always_open=options["always_open"])
        if not result.created:
            self.stdout.write(
                f"The demo is already loaded. Sign in as {OWNER_EMAIL} with the password "
                "printed when it was first loaded."
            )
            return
        self.stdout.write(self.style.SUCCESS("Demo loaded. These passwords are shown only once:"))
        for email, password in result.passwords.items():
            self.stdout.write(f"  {email:<22} {password}")
        self.stdout.write("Customer simulator: /sandbox/")
