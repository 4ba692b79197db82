from django.core.management.base import BaseCommand, CommandError

from conversa.accounts.models import Member
from conversa.accounts.services import create_api_token


class Command(BaseCommand):
    help = "Create an API token for a member (by email); the token is printed once."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, email, name, **options):
        member = Member.objects.filter(user__username=email.strip().lower()).order_by("id").first()
        if member is None:
            raise CommandError(f"No member with the email {email}")
        self.stdout.write(create_api_token(member, name))
