import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from conversa.accounts.organizations import create_organization
from conversa.errors import Refused


class Command(BaseCommand):
    help = (
        "Create an organization and its owner (as the first-run page does). The password is "
        "read from standard input (--password-stdin) or asked for; never from the command line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="the organization's name")
        parser.add_argument(
            "--time-zone", required=True, help="an IANA time zone, e.g. America/Sao_Paulo"
        )
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-name", required=True)
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the owner's password from the first line of standard input",
        )

    def handle(self, *args, name, time_zone, owner_email, owner_name, password_stdin, **options):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass("Owner's password: ")
            if password != getpass.getpass("The password again: "):
                raise CommandError("The two passwords differ.")
        try:
            owner = create_organization(
                name=name,
                time_zone=time_zone,
                owner_name=owner_name,
                owner_email=owner_email,
                password=password,
            )
        except Refused as exc:
            where = f"{exc.field}: " if exc.field else ""
            raise CommandError(f"{where}{exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {owner.organization.name} ({owner.organization.slug}); "
                f"its owner {owner.user.username} can sign in now."
            )
        )
