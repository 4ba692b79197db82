"""`conversa bench followups`: moving leads into a stage with a 3-step automation, then the
engine sending every step, on the configured database.

1. Setup (not timed): a throwaway organization with an unlimited sandbox number, a pipeline,
   an automation on its "Proposta" stage (steps after 0, 1 and 2 minutes) and N leads in
   "Novo", inserted in bulk.
2. Scheduling (timed): every lead moved into "Proposta" through `crm.services.move_lead`, one
   transaction per move, as the board and the API do: 3 intents per lead.
3. Delays compressed: the scheduled jobs' `run_after` moved to now, then `dispatch_due`.
4. Sending (timed): W `conversa worker` processes with the sandbox in-process (it accepts at
   once), until every step is SENT.
Figures: steps scheduled/s, sent/s, duplicates (keys and ledger; both must be 0), peak memory.
"""

import resource
import time

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from bench.cluster import ledger_duplicates
from bench.dispatch import scratch_number, send_with_workers
from conversa.accounts.models import Member
from conversa.crm import automations, followups, services
from conversa.crm.models import FollowUp, Lead, Pipeline, Stage, StageChange
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.inbox.models import Contact
from conversa.sandbox.models import SandboxMessage

S = ExecutionJob.Status
STEPS = [
    {"delay": 0, "template": "Olá {{contact.first_name}}, sobre {{lead.title}}"},
    {"delay": 1, "template": "Conseguiu ver a proposta de R$ {{lead.value}}?"},
    {"delay": 2, "template": "Última mensagem sobre {{lead.title}}"},
]


def setup(org, leads: int) -> tuple[list[Lead], Stage, Member]:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username=f"bench-{org.slug}@bench.local")
    owner = Member.objects.create(
        organization=org, user=user, role=Member.Role.OWNER, display_name="Bench"
    )
    pipeline = Pipeline.objects.create(organization=org, name="Bench")
    novo, proposta = Stage.objects.bulk_create(
        Stage(organization=org, pipeline=pipeline, name=name, position=n)
        for n, name in enumerate(["Novo", "Proposta"])
    )
    automations.save_automation(org, acting_member=owner, name="Bench", stage=proposta, steps=STEPS)
    people = Contact.objects.bulk_create(
        Contact(organization=org, phone=f"55118{n:08d}", name=f"Cliente {n}") for n in range(leads)
    )
    rows = Lead.objects.bulk_create(
        Lead(
            organization=org,
            pipeline=pipeline,
            stage=novo,
            contact=contact,
            title=f"Lead {n}",
            value=1000 + n,
        )
        for n, contact in enumerate(people)
    )
    return rows, proposta, owner


def run(leads: int = 10000, workers: int = 2, batch_size: int = 100) -> dict:
    with scratch_number() as (number, twin):
        org = number.organization
        rows, proposta, owner = setup(org, leads)
        started = time.perf_counter()
        for lead in rows:
            services.move_lead(lead, proposta, acting_member=owner)
        scheduling = time.perf_counter() - started
        scheduled = FollowUp.objects.filter(organization=org).count()
        mine = ExecutionJob.objects.filter(organization=org)
        mine.filter(status=S.PENDING).update(run_after=timezone.now())
        followups.dispatch_due(org)

        sending, peak = send_with_workers(mine, scheduled, workers, batch_size)
        sent = mine.filter(status=S.SENT).count()
        repeated_keys = (
            MessageIntent.objects.filter(organization=org)
            .values("idempotency_key")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
        figures = {
            "benchmark": "followups",
            "database": connection.vendor,
            "leads": leads,
            "steps_per_lead": len(STEPS),
            "moves": StageChange.objects.filter(organization=org).count(),
            "steps_scheduled": scheduled,
            "scheduling_seconds": round(scheduling, 3),
            "steps_scheduled_per_second": round(scheduled / scheduling, 1),
            "workers": workers,
            "sent": sent,
            "sending_seconds": round(sending, 3),
            "sent_per_second": round(sent / sending, 1),
            "duplicate_keys": repeated_keys,
            "duplicates": ledger_duplicates(twin),
            "receipts": SandboxMessage.objects.filter(instance=twin).count(),
            "mover_peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            ),
            "worker_peak_rss_mb": round(peak, 1),
            "note": "one process moves the leads (one transaction per move); delays compressed",
        }
        # The scratch organization's rows go with it; its leads first (stages are protected).
        Lead.objects.filter(organization=org).delete()
        return figures
