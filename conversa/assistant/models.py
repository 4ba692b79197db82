from django.db import models
from django.utils import timezone

from conversa.accounts.models import OrgOwned


class Persona(OrgOwned):
    """How the assistant speaks for an organization when it drafts or sends replies."""

    name = models.CharField(max_length=120)
    instructions = models.TextField(blank=True)
    active = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name
