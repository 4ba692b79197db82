from django.db import models
from django.utils import timezone

from conversa.accounts.models import Member, OrgOwned
from conversa.inbox.models import Contact


class Pipeline(OrgOwned):
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Stage(OrgOwned):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    color = models.CharField(max_length=16, default="#64748b")
    is_won = models.BooleanField(default=False)
    is_lost = models.BooleanField(default=False)

    class Meta:
        ordering = ["pipeline", "position", "id"]

    def __str__(self) -> str:
        return self.name


class Lead(OrgOwned):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="leads")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="leads")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="leads")
    title = models.CharField(max_length=200)
    value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    owner = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.title


class StageChange(OrgOwned):
    """A lead entering a stage. Its id is the stage-entry epoch that follow-up keys build on."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    moved_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)


class Automation(OrgOwned):
    """Trigger: a lead entered `stage`. Its ordered steps become scheduled intents."""

    name = models.CharField(max_length=120)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="automations")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)


class AutomationStep(OrgOwned):
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    delay_minutes = models.PositiveIntegerField(default=0)
    template = models.TextField()

    class Meta:
        ordering = ["automation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["automation", "position"], name="step_unique_position")
        ]
