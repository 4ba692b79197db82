"""The demo organization: people, a connected sandbox number, customers with open chats, a
pipeline. Loaded by `conversa demo` (and `make run`); loading it again changes nothing."""

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from conversa.accounts.models import Member, Organization
from conversa.crm import automations
from conversa.crm import services as crm
from conversa.crm.models import Pipeline, Stage
from conversa.inbound import consequences as inbound
from conversa.inbox import canned_replies, notes, ownership, tags
from conversa.inbox import services as inbox
from conversa.inbox.models import Message, Queue
from conversa.numbers.models import Number
from conversa.numbers.webhooks import webhook_url
from conversa.providers.base import InboundMessage
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.registry import sandbox_tenant
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxInstance, SandboxMessage

DEMO_SLUG = "demo"
OWNER_EMAIL = "admin@demo.local"
PEOPLE = [
    (OWNER_EMAIL, "Admin Demo", Member.Role.OWNER),
    ("ana@demo.local", "Ana Souza", Member.Role.AGENT),
    ("bruno@demo.local", "Bruno Lima", Member.Role.AGENT),
]
CUSTOMERS = [
    ("5511987650001", "Mariana Costa", ["Oi! Vocês entregam em Campinas?", "É para amanhã"]),
    ("5521998760002", "João Pereira", ["Bom dia, queria saber o preço do plano anual."]),
    ("5531976540003", "Carla Mendes", ["Meu pedido #4821 ainda não chegou 😕"]),
]
CANNED = [
    (
        "ola",
        "Olá {{contact.first_name}}! Aqui é {{operator.name}}, da {{organization.name}}. Como posso ajudar?",
    ),
    ("horario", "Atendemos de segunda a sexta, das 9h às 18h, e aos sábados das 9h às 13h."),
    (
        "prazo",
        "{{contact.first_name}}, o prazo de entrega para a sua região é de 2 a 4 dias úteis.",
    ),
]
DEMO_FIRST_RESPONSE_MINUTES = 60
DEMO_RESOLUTION_MINUTES = 8 * 60
TAGS = [("VIP", "purple"), ("Entrega", "blue"), ("Orçamento", "green")]
STAGES = [
    ("Novo", "#64748b"),
    ("Qualificado", "#0ea5e9"),
    ("Proposta", "#8b5cf6"),
    ("Fechado", "#16a34a"),
    ("Perdido", "#dc2626"),
]


@dataclass
class DemoResult:
    created: bool
    organization: Organization
    passwords: dict[str, str] = field(default_factory=dict)


def create_member(org: Organization, email: str, name: str, role: str, password: str) -> Member:
    user = get_user_model().objects.create_user(username=email, email=email, password=password)
    user.first_name = name
    user.save(update_fields=["first_name"])
    return Member.objects.create(organization=org, user=user, role=role, display_name=name)


def connect_sandbox_number(org: Organization, name: str, phone: str) -> Number:
    """A Conversa number and its twin in the simulator, already paired."""
    number = Number.objects.create(
        organization=org,
        name="Vendas",
        provider=Number.Provider.SANDBOX,
        provider_name=name,
        phone_number=phone,
        status=Number.Status.CONNECTED,
    )
    # `conversa serve` points it at its own port when it starts (webhooks.align_sandbox_webhooks).
    url = webhook_url(number)
    twin = simulator.create_instance(
        name,
        {"url": url, "headers": {SECRET_HEADER: number.webhook_secret}},
        tenant=sandbox_tenant(org.pk),
    )
    SandboxInstance.objects.filter(pk=twin.pk).update(state="open", owner_phone=phone)
    number.provider_token = twin.token
    number.webhook_url = url
    number.save(update_fields=["provider_token", "webhook_url"])
    return number


@transaction.atomic
def load_demo() -> DemoResult:
    existing = Organization.objects.filter(slug=DEMO_SLUG).first()
    if existing:
        return DemoResult(created=False, organization=existing)
    # Open around the clock (an empty week: the SLA clock never pauses), so the clocks tick on
    # the demo's first run whatever the day and hour; a new organization gets Mon–Fri 09–18.
    org = Organization.objects.create(name="Demo Comércio", slug=DEMO_SLUG, business_hours={})
    result = DemoResult(created=True, organization=org)
    for email, name, role in PEOPLE:
        password = secrets.token_urlsafe(12)
        create_member(org, email, name, role, password)
        result.passwords[email] = password

    number = connect_sandbox_number(org, f"demo-{secrets.token_hex(3)}", "5511940000000")
    # One team answering the number: its new conversations wait in the queue for a claim.
    members = {
        m.user.email: m for m in Member.objects.filter(organization=org).select_related("user")
    }
    # Targets long enough for a first look (and the browser tests' runs) to find every clock
    # running, not yet late.
    queue = Queue.objects.create(
        organization=org,
        name="Atendimento",
        first_response_minutes=DEMO_FIRST_RESPONSE_MINUTES,
        resolution_minutes=DEMO_RESOLUTION_MINUTES,
    )
    queue.members.add(*members.values())
    queue.numbers.add(number)
    twin = SandboxInstance.objects.get(name=number.provider_name)
    start = timezone.now() - timedelta(minutes=40)
    for index, (phone, name, lines) in enumerate(CUSTOMERS):
        for line_no, text in enumerate(lines):
            # The same message in the simulator's ledger and in the inbox, as if delivered.
            record = SandboxMessage.objects.create(
                instance=twin,
                chat_phone=phone,
                customer_name=name,
                from_me=False,
                message_id=simulator.new_message_id(),
                text=text,
                status="DELIVERY_ACK",
            )
            inbound.receive_message(
                number,
                InboundMessage(
                    provider_message_id=record.message_id,
                    phone=phone,
                    name=name,
                    kind="text",
                    body=text,
                    timestamp=start + timedelta(minutes=10 * index + line_no),
                ),
            )

    show_the_inbox(org, number, members)

    pipeline = Pipeline.objects.create(organization=org, name="Vendas")
    for position, (name, colour) in enumerate(STAGES):
        Stage.objects.create(
            organization=org,
            pipeline=pipeline,
            name=name,
            position=position,
            colour=colour,
            is_won=name == "Fechado",
            is_lost=name == "Perdido",
        )
    show_the_pipeline(org, pipeline, members)
    return result


# The demo's leads: (phone, name, title, value, stage, owner: an email's name or None).
LEADS = [
    ("5511987650001", "Mariana Costa", "Entrega semanal em Campinas", "1800", "Novo", None),
    ("5521998760002", "João Pereira", "Plano anual", "990", "Qualificado", "admin"),
    ("5531976540003", "Carla Mendes", "Reposição de estoque", "4250.50", "Proposta", "ana"),
    (
        "5511955550101",
        "Padaria Pão Quente",
        "Cestas de café da manhã",
        "12000",
        "Proposta",
        "bruno",
    ),
    ("5511955550102", "Studio Yoga Leve", "Kit boas-vindas para alunos", "2300", "Novo", "ana"),
    ("5511955550103", "Rafael Nunes", "Presentes corporativos", "7800", "Fechado", "admin"),
    ("5511955550104", "Oficina do Zé", "Uniformes", "1500", "Perdido", "bruno"),
]
PROPOSAL_STEPS = [
    (
        0,
        "minutes",
        "Oi {{contact.first_name}}! Enviei a proposta de {{lead.title}}. Qualquer dúvida, é só responder aqui.",
    ),
    (2, "days", "{{contact.first_name}}, conseguiu ver a proposta? Posso ajustar algo para você?"),
    (
        5,
        "days",
        "Oi {{contact.first_name}}, a proposta de {{lead.title}} segue válida esta semana. Vamos fechar?",
    ),
]


def show_the_pipeline(org: Organization, pipeline: Pipeline, members: dict[str, Member]) -> None:
    """Leads in every stage of the sales pipeline and a follow-up automation on Proposta
    (made after the leads, so loading the demo schedules nothing)."""
    owner = members[OWNER_EMAIL]
    stages = {stage.name: stage for stage in pipeline.stages.all()}
    people = {email.split("@")[0]: member for email, member in members.items()}
    for phone, name, title, value, stage, who in LEADS:
        contact = inbox.upsert_contact(org, phone, name)
        crm.create_lead(
            contact, stages[stage], title, acting_member=owner, value=value, owner=people.get(who)
        )
    automations.save_automation(
        org,
        acting_member=owner,
        name="Acompanhar proposta",
        stage=stages["Proposta"],
        steps=[
            {"delay": delay, "delay_unit": unit, "template": text}
            for delay, unit, text in PROPOSAL_STEPS
        ],
    )


def show_the_inbox(org: Organization, number: Number, members: dict[str, Member]) -> None:
    """Enough around the demo's conversations for the operator view to show what it does:
    tags, canned replies, one conversation being worked on by Ana with a note, one reply the
    Gate refused (and its retry button)."""
    owner, ana = members[OWNER_EMAIL], members["ana@demo.local"]
    for shortcode, body in CANNED:
        canned_replies.save_canned_reply(org, shortcode, body, acting_member=owner)
    made = {name: tags.create_tag(org, name, colour, acting_member=owner) for name, colour in TAGS}
    conversations = {c.contact.phone: c for c in number.conversations.select_related("contact")}
    carla = conversations[CUSTOMERS[2][0]]
    ownership.claim(carla, acting_member=ana)
    tags.tag_conversation(carla, made["Entrega"], acting_member=ana)
    tags.tag_contact(carla.contact, made["VIP"], acting_member=ana)
    notes.add_note(
        carla, "Cliente recorrente: conferir o rastreio com a transportadora.", acting_member=ana
    )
    failed = inbox.new_outbound_message(
        carla, "Oi Carla! Vou verificar o seu pedido agora.", acting_member=ana
    )
    inbox.advance_status(failed, Message.Status.FAILED, error="The number was disconnected.")
    joao = conversations[CUSTOMERS[1][0]]
    tags.tag_conversation(joao, made["Orçamento"], acting_member=owner)
