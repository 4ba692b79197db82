"""The demo organization: people, a connected sandbox number, customers with open chats, a
pipeline, a campaign, the satisfaction survey turned on, two weeks of past conversations,
ratings and follow-ups (demo_history), and an assistant that answers the number outside business
hours from a few FAQs (the simulator's model). Loaded by `conversa demo` (and `make run`);
loading it again changes nothing."""

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from conversa.accounts.models import Member, Organization
from conversa.assistant import auto_reply_rules, knowledge, personas
from conversa.assistant.models import AutoReply, KnowledgeSource
from conversa.campaigns import consent, sending
from conversa.campaigns.models import Campaign, Consent
from conversa.crm import automations, followups
from conversa.crm import services as crm
from conversa.crm.models import Automation, Pipeline, Stage
from conversa.demo_history import load_followups, load_history
from conversa.engine import services as engine
from conversa.engine.models import ExecutionJob
from conversa.inbound import consequences as inbound
from conversa.inbox import canned_replies, notes, ownership, tags
from conversa.inbox import services as inbox
from conversa.inbox.models import Conversation, Message, Queue, SurveySettings
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
# The shop's hours, as its canned reply says; outside them the assistant answers.
DEMO_HOURS = {
    **{day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "sat": [["09:00", "13:00"]],
}
PERSONA = {
    "name": "Bia",
    "instructions": (
        "Você é a Bia, assistente da Demo Comércio. Responda só com o que está no "
        "conhecimento; pedidos e orçamentos são com a equipe."
    ),
    "greeting_morning": "Bom dia! Aqui é a Bia, da Demo Comércio.",
    "greeting_afternoon": "Boa tarde! Aqui é a Bia, da Demo Comércio.",
    "greeting_evening": "Boa noite! Aqui é a Bia, da Demo Comércio.",
    "facts": "A Demo Comércio vende roupas e presentes pela internet e na loja de São Paulo.",
    "forbidden_topics": ["reembolso", "processo"],
}
FAQS = [
    (
        "Horário e atendimento",
        "P: Qual o horário de atendimento?\n"
        "R: De segunda a sexta, das 9h às 18h, e aos sábados das 9h às 13h. Fora desse "
        "horário, a assistente Bia responde e a equipe continua no dia seguinte.\n\n"
        "P: Como falo com uma pessoa?\n"
        'R: Escreva "falar com atendente" e a conversa vai para a equipe.',
    ),
    (
        "Entregas",
        "P: Vocês entregam em Campinas?\n"
        "R: Sim, entregamos em todo o estado de São Paulo, Campinas incluída.\n\n"
        "P: Qual o prazo de entrega?\n"
        "R: De 2 a 4 dias úteis para o estado de São Paulo e de 5 a 8 dias úteis para as "
        "outras regiões.\n\n"
        "P: Como acompanho o meu pedido?\n"
        "R: O código de rastreio chega por e-mail no dia do envio.",
    ),
    (
        "Trocas",
        "P: Posso trocar um produto?\n"
        "R: Sim, em até 30 dias depois da entrega, com a etiqueta. A equipe combina a coleta.",
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
def load_demo(*, always_open: bool = False) -> DemoResult:
    """The demo, once. `always_open` loads it open around the clock (an empty week: the SLA
    clocks never pause and the assistant, which answers outside business hours, never does),
    so that what it shows does not depend on the hour it is loaded at (the browser tests)."""
    existing = Organization.objects.filter(slug=DEMO_SLUG).first()
    if existing:
        return DemoResult(created=False, organization=existing)
    org = Organization.objects.create(
        name="Demo Comércio", slug=DEMO_SLUG, business_hours={} if always_open else DEMO_HOURS
    )
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
    # The satisfaction survey on: the history's resolutions asked, and the demo's will.
    SurveySettings.objects.create(organization=org, enabled=True)
    # The weeks before, all of it resolved: the live inbox above is what a first look finds.
    load_history(org, number, queue, now=timezone.now())

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
    load_followups(org, Automation.objects.get(organization=org), number, now=timezone.now())
    show_a_campaign(org, number, members)
    # Last: the customers above wrote before the assistant was turned on.
    show_the_assistant(org, number, members[OWNER_EMAIL])
    return result


def show_the_assistant(org: Organization, number: Number, owner: Member) -> None:
    """A persona with the shop's FAQs, answering the number outside business hours (the
    simulator's model: no network)."""
    for title, body in FAQS:
        knowledge.save_source(
            org, acting_member=owner, title=title, body=body, kind=KnowledgeSource.Kind.FAQ
        )
    persona = personas.save_persona(org, acting_member=owner, **PERSONA)
    personas.set_active(persona, True, acting_member=owner)
    auto_reply_rules.save_auto_reply(
        org,
        acting_member=owner,
        persona=persona,
        number=number,
        when=AutoReply.When.OUTSIDE_HOURS,
    )


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


# The newsletter's audience: (phone, name, consented, what happened to the message they got:
# "read", "delivered", "sent", or a reply they wrote). Two never agreed and one opted out, so
# the campaign's page shows people it skipped and why.
SUBSCRIBERS = [
    ("5511960000101", "Beatriz Almeida", True, "Que ótimo! Tem no tamanho M?"),
    ("5511960000102", "Lucas Ferreira", True, "read"),
    ("5511960000103", "Fernanda Rocha", True, "Quero o kit presente, como faço?"),
    ("5511960000104", "Gustavo Ribeiro", True, "read"),
    ("5511960000105", "Juliana Martins", True, "delivered"),
    ("5511960000106", "Pedro Carvalho", True, "read"),
    ("5511960000107", "Camila Barbosa", True, "Vocês entregam no sábado?"),
    ("5511960000108", "Thiago Araújo", True, "delivered"),
    ("5511960000109", "Larissa Gomes", True, "read"),
    ("5511960000110", "Diego Cardoso", True, "sent"),
    ("5511960000111", "Aline Teixeira", True, "read"),
    ("5511960000112", "Ricardo Moura", True, "delivered"),
    ("5511960000113", "Sofia Castro", False, ""),
    ("5511960000114", "Marcelo Dias", False, ""),
]
OPTED_OUT = ("5511960000115", "Patrícia Lopes")
NEWSLETTER = (
    "Olá {{contact.first_name}}! Chegou a coleção de verão da {{organization.name}}: "
    "frete grátis até domingo. Responda esta mensagem para reservar o seu."
)


def show_a_campaign(org: Organization, number: Number, members: dict[str, Member]) -> None:
    """A newsletter campaign run to its end through the real services: a tagged audience (most
    with a marketing consent recorded with its evidence, two without, one opted out), started,
    its messages sent by the engine through the simulator in this process, delivered or read,
    and a few answered, so its page has counts, skipped reasons and an hourly report."""
    owner = members[OWNER_EMAIL]
    tag = tags.create_tag(org, "Newsletter", "orange", acting_member=owner)
    wrote = timezone.now() - timedelta(hours=3)
    people = []
    for phone, name, agreed, _ in [*SUBSCRIBERS, (*OPTED_OUT, True, "")]:
        contact = inbox.upsert_contact(org, phone, name)
        # They wrote to the shop earlier today (free text may go to them for 24 hours).
        Conversation.objects.create(
            organization=org,
            number=number,
            contact=contact,
            status=Conversation.Status.RESOLVED,
            first_inbound_at=wrote,
            last_inbound_at=wrote,
            last_message_at=wrote,
            resolved_at=wrote,
        )
        if agreed:
            consent.record_consent(
                contact,
                granted=True,
                channel=Consent.Channel.WEB_FORM,
                evidence="Cadastro na newsletter do site: caixa de consentimento marcada",
                at=timezone.now() - timedelta(days=12),
                acting_member=owner,
            )
        tags.tag_contact(contact, tag, acting_member=owner)
        people.append(contact)
    followups.set_opted_out(people[-1], acting_member=owner, reason="Pediu para sair da lista")

    campaign = sending.save_campaign(
        org,
        sending.Draft(
            name="Coleção de verão",
            body=NEWSLETTER,
            number_ids=(number.pk,),
            tag_ids=(tag.pk,),
            pace_per_minute=0,
        ),
        acting_member=owner,
    )
    sending.start(campaign, acting_member=owner)
    send_now(campaign)
    sending.finish_if_done(campaign)
    answer_the_newsletter(number, campaign)


def send_now(campaign: Campaign) -> None:
    """The campaign's jobs claimed and sent as a worker sends them, the simulator called in
    this process (no server runs while the demo loads)."""
    waiting = ExecutionJob.objects.filter(
        intent__campaign=campaign, status=ExecutionJob.Status.PENDING
    )
    ids = list(waiting.values_list("pk", flat=True))
    waiting.filter(pk__in=ids).update(
        status=ExecutionJob.Status.CLAIMED,
        worker_id="demo",
        lease_until=timezone.now() + timedelta(seconds=settings.WORKER_LEASE_SECONDS),
        updated_at=timezone.now(),
    )
    with override_settings(SANDBOX_IN_PROCESS=True):
        engine.execute_jobs(ids, "demo")


def answer_the_newsletter(number: Number, campaign: Campaign) -> None:
    """What became of each message on the customer's phone: delivered, read, or answered (an
    answer is a customer's message like any other, which the campaign counts as its reply)."""
    twin = SandboxInstance.objects.get(name=number.provider_name)
    outcomes = {phone: outcome for phone, _, agreed, outcome in SUBSCRIBERS if agreed}
    sent = Message.objects.filter(
        organization=campaign.organization, job__intent__campaign=campaign
    ).select_related("conversation__contact")
    for message in sent:
        phone = message.conversation.contact.phone
        outcome = outcomes.get(phone, "sent")
        if outcome == "sent":
            continue
        inbox.advance_status(message, Message.Status.DELIVERED)
        if outcome != "delivered":
            inbox.advance_status(message, Message.Status.READ)
        SandboxMessage.objects.filter(instance=twin, message_id=message.provider_message_id).update(
            status="DELIVERY_ACK" if outcome == "delivered" else "READ"
        )
        if outcome in ("delivered", "read"):
            continue
        record = SandboxMessage.objects.create(
            instance=twin,
            chat_phone=phone,
            customer_name=message.conversation.contact.name,
            from_me=False,
            message_id=simulator.new_message_id(),
            text=outcome,
            status="DELIVERY_ACK",
        )
        inbound.receive_message(
            number,
            InboundMessage(
                provider_message_id=record.message_id,
                phone=phone,
                name=message.conversation.contact.name,
                kind="text",
                body=outcome,
                timestamp=timezone.now(),
            ),
        )
