"""A pipeline, a lead and an automation in one line each."""

from conversa.crm import automations, services
from conversa.crm.models import Automation, Lead, Pipeline, Stage
from conversa.engine import jobs
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob
from conversa.inbox import services as inbox
from tests.conftest import Org

STEPS = [
    {"delay": 0, "template": "Olá {{contact.first_name}}, sobre {{lead.title}}"},
    {"delay": 2, "delay_unit": "days", "template": "Ainda interessado em {{lead.title}}?"},
    {"delay": 3, "delay_unit": "days", "template": "Última chance: R$ {{lead.value}}"},
]


def pipeline(org: Org, custom_fields=()) -> Pipeline:
    return services.create_pipeline(
        org.org,
        "Vendas",
        acting_member=org.owner,
        stages=[{"name": n} for n in ("Novo", "Proposta", "Negociação", "Ganho")],
        custom_fields=list(custom_fields),
    )


def stage(p: Pipeline, name: str) -> Stage:
    return p.stages.get(name=name)


def lead(org: Org, p: Pipeline, phone: str = "5511988880001", title: str = "Plano anual") -> Lead:
    contact = inbox.upsert_contact(org.org, phone, "Maria Souza")
    return services.create_lead(
        contact, stage(p, "Novo"), title, acting_member=org.owner, value="1500"
    )


def automation(
    org: Org, at: Stage, steps=None, name: str = "Proposta follow-up", **extra
) -> Automation:
    return automations.save_automation(
        org.org,
        acting_member=org.owner,
        name=name,
        stage=at,
        steps=steps or STEPS,
        **extra,
    )


def run_worker() -> int:
    """Claim and run what is runnable until nothing is left, as a worker's passes would (the
    sandbox answering in-process: tests/crm/conftest.py); the jobs it ran."""
    total = 0
    while claimed := jobs.claim_batch("test-worker", 50):
        engine.execute_jobs(claimed, "test-worker")
        total += len(claimed)
    return total


def job_of(follow_up) -> ExecutionJob:
    return ExecutionJob.objects.get(intent_id=follow_up.intent_id)
