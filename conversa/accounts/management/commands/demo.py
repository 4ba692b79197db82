from django.core.management.base import BaseCommand

from conversa.demo import OWNER_EMAIL, load_demo


class Command(BaseCommand):
    help = "Load the demo organization (once): members, a connected sandbox number, chats."

    def handle(self, *args, **options):
        result = load_demo()
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
