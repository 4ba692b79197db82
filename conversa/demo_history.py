"""Two weeks of the demo shop's past, so its Insights are not empty on the first run and the
last 7 days compare with a week before them that was a little quieter (issue 19).

A Brazilian shop's support team on WhatsApp: customers write more on weekdays, most between
9–12 and 14–18 local time and a few at night; Ana, Bruno and the owner answer within minutes
while the team works (Mon–Fri 08:30–18:30, Sat 09:00–13:00) and the next morning otherwise;
conversations are resolved, a few come back (reopened) or change hands (transferred), some
are tagged. The satisfaction survey is on: each resolution asked for a rating, and most
customers gave one, some with a comment. Every reply went through the engine: its intent, the Gate's decision, its job, and
its fate on the phone (delivered, read, failed and sent again). One morning the number lost its
connection for a while, and the Gate held the replies written then until it came back.

Everything ends an hour before `now` and is resolved, so the live inbox (the demo's open
conversations) is as it was. Seeded: the same `now` gives the same rows. Inserted in bulk, with
the fields the figures read set as the services would have set them.
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.crm.followups import followup_key
from conversa.crm.models import Automation, FollowUp, Lead, StageChange
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.inbound.services import event_record
from conversa.inbox import deadlines
from conversa.inbox.contacts import Identifiers
from conversa.inbox.models import (
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    Queue,
    Survey,
    Tag,
)
from conversa.numbers.models import Number
from conversa.numbers.webhooks import heard_from
from conversa.providers.base import InboundMessage, StatusUpdate
from conversa.providers.models import ProviderEvent

SEED = 19
DAYS = 14
# The provider's webhooks are kept for the last days only.
WEBHOOK_DAYS = 3
# The week before the last 7 days: this share of the conversations, so comparisons move.
EARLIER_WEEK_SHARE = 0.85
# Nothing of the past later than this before `now`: the live demo's chats begin 40 minutes ago.
QUIET_BEFORE_NOW = timedelta(hours=1)
# Conversations opened on each local weekday (Monday first), give or take a few.
OPENED_PER_WEEKDAY = (33, 30, 29, 30, 27, 13, 7)
# Days before today on which one more customer writes between 00:00 and 06:00 (local).
NIGHT_DAYS_BACK = (2, 4)
# The day before today on which a customer gives a score no one gave in the last 7 days.
RATED_DAYS_BACK = 3
# How customers' first messages spread over the local hours (0–23).
HOUR_WEIGHTS = (
    0.3, 0.15, 0.1, 0.05, 0.05, 0.1, 0.3, 0.8, 2.0, 5.0, 6.0, 6.0,
    3.5, 3.5, 5.0, 5.5, 5.5, 5.0, 3.0, 2.2, 1.8, 1.2, 0.7, 0.4,
)  # fmt: skip
# When the team answers (local), by weekday: (from, to); Sunday no one.
TEAM_HOURS = {
    **{day: (time(8, 30), time(18, 30)) for day in range(5)},
    5: (time(9), time(13)),
}
# Who answers, and how often.
AGENT_SHARE = {"ana@demo.local": 45, "bruno@demo.local": 40, "admin@demo.local": 15}
REOPENED = 3
# The reopened and transferred ones opened at least this long before the quiet hour: a chat,
# its reopening and the weekend between them are over by then.
SETTLED = timedelta(days=3)
TRANSFERRED = 4
FAILED_SHARE = 0.03
# The survey after each resolution: how many answer, within how long, and what they say.
SURVEY_OPEN = timedelta(hours=24)
ANSWERED_SHARE = 0.6
RATING_WEIGHTS = {5: 55, 4: 25, 3: 10, 2: 5, 1: 5}
COMMENTED_SHARE = 0.35
SURVEY_QUESTION = (
    "Como foi o nosso atendimento? Responda com uma nota de 1 (ruim) a 5 (ótimo) e, se "
    "quiser, um comentário."
)
COMMENTS = {
    5: ("Atendimento super rápido, obrigada!", "Muito atenciosos 👏", "Resolveram na hora"),
    4: ("Bom atendimento, só demorou um pouco", "Gostei, mas o frete podia ser menor"),
    3: ("Resolveu, mas tive que explicar duas vezes",),
    2: ("Demoraram para responder",),
    1: ("Ninguém me respondeu no sábado",),
}
SEND_ERROR = "The recipient's phone could not be reached."
# The number's outage: on the latest weekday before today, from 10:10 for 25 minutes.
OUTAGE_START, OUTAGE_LENGTH = time(10, 10), timedelta(minutes=25)
NOT_CONNECTED = ("number_not_connected", "The number is not connected")
ALLOWED = ("ok", "All checks passed")
RECHECK = timedelta(minutes=1)

FIRST_NAMES = (
    "Ana Clara", "Beatriz", "Bruna", "Camila", "Daniela", "Eduarda", "Fernanda", "Gabriela",
    "Helena", "Isabela", "Jéssica", "Larissa", "Letícia", "Luana", "Manuela", "Natália",
    "Patrícia", "Renata", "Sabrina", "Tatiane", "Vanessa", "Yasmin", "André", "Bernardo",
    "Caio", "Daniel", "Eduardo", "Felipe", "Gabriel", "Gustavo", "Henrique", "Igor", "Leonardo",
    "Marcos", "Matheus", "Otávio", "Paulo", "Rodrigo", "Samuel", "Vinícius", "Wesley",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
    "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares",
    "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira",
    "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Teixeira",
)  # fmt: skip
AREA_CODES = ("11", "11", "11", "11", "19", "21", "21", "31", "41", "47", "51", "61", "71", "81")

C, A, Q = "customer", "agent", "survey question"
# What customers write about: (a conversation tag's name or "", the turns). {first} is the
# customer's first name, {agent} the operator's, {order} an order number. A conversation may
# stop after any agent turn (the customer had what they needed).
TOPICS = (
    (
        "Entrega",
        [
            (C, "Oi, meu pedido #{order} ainda não chegou"),
            (A, "Olá {first}! Aqui é {agent}. Vou verificar o rastreio do pedido #{order}."),
            (A, "Está com a transportadora, com previsão de entrega amanhã até as 18h."),
            (C, "Ah, que bom. Obrigada!"),
            (A, "Por nada! Qualquer coisa é só chamar aqui."),
        ],
    ),
    (
        "Entrega",
        [
            (C, "Boa tarde! Vocês entregam em {city}?"),
            (A, "Boa tarde, {first}! Entregamos sim, o prazo para {city} é de 2 a 4 dias úteis."),
            (C, "E o frete fica quanto?"),
            (A, "Acima de R$ 199 o frete é grátis; abaixo disso sai por R$ 19,90."),
            (C, "Perfeito, vou fechar o pedido pelo site"),
        ],
    ),
    (
        "",
        [
            (C, "Oi! Quero trocar um tênis que ficou pequeno"),
            (C, "Comprei o 38, preciso do 39"),
            (A, "Oi {first}, tudo bem? Claro! A troca é grátis em até 30 dias."),
            (A, "Vou te mandar a etiqueta de postagem por e-mail, é só levar numa agência."),
            (C, "Recebi aqui, obrigado"),
            (A, "Assim que chegar aqui enviamos o 39. 😊"),
        ],
    ),
    (
        "Orçamento",
        [
            (C, "Bom dia, queria um orçamento de 30 camisetas para a empresa"),
            (A, "Bom dia, {first}! Aqui é {agent}. Com estampa ou lisas?"),
            (C, "Com o logo na frente, tamanhos variados"),
            (A, "Para 30 unidades com estampa fica R$ 38,90 cada, prazo de 10 dias úteis."),
            (C, "Vou ver com meu gestor e te retorno"),
            (A, "Combinado! O orçamento vale por 15 dias."),
        ],
    ),
    (
        "",
        [
            (C, "Fiz o Pix do pedido #{order} mas ainda aparece como pendente"),
            (A, "Oi {first}! O Pix pode levar alguns minutos para compensar. Vou conferir."),
            (A, "Confirmado aqui: o pagamento entrou e o pedido já está em separação."),
            (C, "Ufa, obrigada!"),
        ],
    ),
    (
        "",
        [
            (C, "Tem a camiseta básica preta no tamanho G?"),
            (A, "Oi {first}! Tem sim, temos 4 unidades no G."),
            (C, "Consigo retirar na loja hoje?"),
            (A, "Consegue! Deixo separada no seu nome até as 18h."),
            (C, "Ótimo, passo aí depois do almoço"),
        ],
    ),
    (
        "",
        [
            (C, "Vocês abrem no sábado?"),
            (A, "Oi {first}! Aos sábados abrimos das 9h às 13h."),
            (C, "Obrigado!"),
        ],
    ),
    (
        "",
        [
            (C, "Preciso da nota fiscal do pedido #{order}, não veio no e-mail"),
            (A, "Olá {first}! Aqui é {agent}. Já reenviei a nota para o seu e-mail."),
            (C, "Chegou, obrigada"),
        ],
    ),
    (
        "",
        [
            (C, "Quero cancelar o pedido #{order}, comprei errado"),
            (A, "Oi {first}, tudo bem? Como ainda não foi enviado, consigo cancelar sim."),
            (A, "Pronto: cancelado. O estorno aparece na fatura em até 2 ciclos."),
            (C, "Valeu!"),
        ],
    ),
    (
        "Orçamento",
        [
            (C, "Oi, vocês fazem desconto para compra no atacado?"),
            (A, "Olá {first}! Acima de 20 peças damos 15% de desconto."),
            (C, "E para revenda?"),
            (A, "Para revenda temos uma tabela própria, vou te mandar por aqui."),
            (A, "Segue: camisetas a partir de R$ 24,90 e moletons a partir de R$ 69,90."),
            (C, "Obrigado, vou analisar"),
        ],
    ),
)
CITIES = ("Campinas", "Santos", "Sorocaba", "Niterói", "Belo Horizonte", "Curitiba", "Joinville")
COMING_BACK = (
    "Oi, de novo! O pedido chegou, mas veio faltando uma peça",
    "Voltei 😅 esqueci de perguntar: dá para parcelar no cartão?",
    "Oi! Ainda não recebi o e-mail que vocês falaram",
    "Desculpa incomodar de novo, o rastreio não atualiza desde ontem",
)
ANSWER_AGAIN = (
    "Oi {first}! Que pena, já estou vendo isso para você.",
    "Oi {first}! Dá sim, em até 6x sem juros.",
    "Oi {first}! Reenviei agora, confere a caixa de spam também.",
    "Oi {first}! Acionei a transportadora e te aviso assim que responderem.",
)
THANKS = "Obrigado pela ajuda!"
TRANSFER_NOTES = (
    "Pode assumir? É sobre troca e você está cuidando das trocas hoje.",
    "Cliente de atacado: melhor você seguir com ele.",
    "Vou sair mais cedo hoje, segue com você.",
    "Assunto de pagamento, fica com você?",
)


@dataclass
class Rows:
    """The history's unsaved rows, and what links them before they have ids."""

    contacts: list[Contact] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    tagged: list[tuple[Conversation, Tag]] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    # (message, decisions as (verdict, code, reason, at, defer_until), send error or "")
    sends: list[tuple[Message, list[tuple], str]] = field(default_factory=list)
    # (object, verb, actor, label, at, data): the object's id is read after the inserts.
    events: list[tuple] = field(default_factory=list)
    # The survey of each conversation's last resolution; its question message is in `sends`.
    surveys: list[Survey] = field(default_factory=list)


class Week:
    """The generator: a seeded random source and the shop's clock."""

    def __init__(self, org: Organization, now: datetime, members: dict[str, Member]):
        self.org, self.zone = org, ZoneInfo(org.time_zone)
        self.until = now - QUIET_BEFORE_NOW
        self.members = members
        self.random = random.Random(f"{SEED}:{now.astimezone(self.zone).date().isoformat()}")
        self.rows = Rows()
        self.phones: set[str] = set()
        self.schedule = org.sla_schedule()

    # --- the clock -----------------------------------------------------------------------

    def local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, self.zone)

    def working(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        hours = TEAM_HOURS.get(local.weekday())
        return hours is not None and hours[0] <= local.time() < hours[1]

    def next_opening(self, at: datetime) -> datetime:
        """The next moment the team is at work, from `at` (itself, if it is)."""
        if self.working(at):
            return at
        day = at.astimezone(self.zone).date()
        for _ in range(8):
            hours = TEAM_HOURS.get(day.weekday())
            if hours is not None:
                opening = self.local(day, hours[0])
                if opening >= at:
                    return opening
            day += timedelta(days=1)
        raise AssertionError("the team works every week")

    def minutes(self, median: float, spread: float = 0.7, cap: float = 240) -> timedelta:
        return timedelta(minutes=min(self.random.lognormvariate(0, spread) * median, cap))

    def answer_after(self, at: datetime) -> datetime:
        """When an operator answers a customer who wrote at `at`: minutes later at work, a
        little after the next opening otherwise."""
        if self.working(at):
            return at + self.minutes(4, cap=45)
        return self.next_opening(at) + self.minutes(15, cap=50)

    # --- people --------------------------------------------------------------------------

    def new_contact(self, at: datetime) -> Contact:
        name = f"{self.random.choice(FIRST_NAMES)} {self.random.choice(LAST_NAMES)}"
        phone = ""
        while not phone or phone in self.phones:
            area = self.random.choice(AREA_CODES)
            phone = f"55{area}984{self.random.randrange(10**6):06d}"
        self.phones.add(phone)
        contact = Contact(organization=self.org, phone=phone, name=name, created_at=at)
        self.rows.contacts.append(contact)
        return contact

    def agent(self) -> Member:
        emails = list(AGENT_SHARE)
        return self.members[self.random.choices(emails, weights=AGENT_SHARE.values())[0]]

    # --- the week ------------------------------------------------------------------------

    def openings(self) -> list[datetime]:
        """Each conversation's first customer message, oldest first.

        The last 7 days are the organization's (Insights' "7 days": today so far and the 6
        before); the 7 before them open EARLIER_WEEK_SHARE as many conversations as those did
        by now. Taken day by day, a Monday morning's week (its Monday still to come) fell
        behind a previous week that had its whole Monday."""
        today = (self.until + QUIET_BEFORE_NOW).astimezone(self.zone).date()
        recent = [opening for back in range(6, -1, -1) for opening in self.day(today, back)]
        so_far = sum(1 for at in recent if at < self.until)
        earlier_days = [today - timedelta(days=back) for back in range(DAYS - 1, 6, -1)]
        weights = [OPENED_PER_WEEKDAY[day.weekday()] for day in earlier_days]
        total = round(so_far * EARLIER_WEEK_SHARE)
        earlier = []
        for day, weight in zip(earlier_days, weights, strict=True):
            count = round(total * weight / sum(weights))
            earlier += [self.at_random_hour(day) for _ in range(count)]
        return sorted(earlier + recent)

    def day(self, today: date, back: int) -> list[datetime]:
        day = today - timedelta(days=back)
        count = OPENED_PER_WEEKDAY[day.weekday()] + self.random.randint(-3, 3)
        return [self.at_random_hour(day) for _ in range(count)]

    def at_random_hour(self, day: date) -> datetime:
        hour = self.random.choices(range(24), weights=HOUR_WEIGHTS)[0]
        return self.local(day, time(hour, self.random.randrange(60)))

    def outage(self) -> tuple[datetime, datetime]:
        """The latest weekday before today, from OUTAGE_START for OUTAGE_LENGTH."""
        day = self.until.astimezone(self.zone).date() - timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        start = self.local(day, OUTAGE_START)
        return start, start + OUTAGE_LENGTH


def load_history(org: Organization, number: Number, queue: Queue, *, now: datetime) -> None:
    """The demo organization's last week before `now` on `number`, its conversations in
    `queue`: a few hundred resolved conversations, their messages, the sends behind the
    replies and the timeline entries the figures read. Made for a new demo (load_demo) once."""
    save(plan(org, number, queue, now=now), org, number)


def plan(org: Organization, number: Number, queue: Queue, *, now: datetime) -> Rows:
    """The week's rows, unsaved: the same rows for the same `now`."""
    members = {
        m.user.email: m for m in Member.objects.filter(organization=org).select_related("user")
    }
    tags = {tag.name: tag for tag in Tag.objects.for_org(org)}
    week = Week(org, now, members)
    openings = week.openings()
    # Which ones come back after their resolution, and which change hands: among those
    # opened while the team works, in the last 7 days (the reopenings in Insights' "7 days")
    # and long enough ago to be over by `week.until` (a later one is left out, and with it
    # its reopening or transfer).
    today = now.astimezone(week.zone).date()
    first_day = week.local(today - timedelta(days=6), time(0))
    busy = [
        n
        for n, at in enumerate(openings)
        if week.working(at) and first_day <= at < week.until - SETTLED
    ]
    reopened = set(week.random.sample(busy, REOPENED))
    transferred = set(week.random.sample([n for n in busy if n not in reopened], TRANSFERRED))
    outage = week.outage()
    for n, at in enumerate(openings):
        plan_conversation(
            week,
            number,
            queue,
            tags,
            at,
            reopens=n in reopened,
            transfers=n in transferred,
            outage=outage,
        )
    # A few customers at night whatever the draw: the hours' weights alone left some weeks
    # without one (about one day in ten), and the heatmap without its night. Planned last,
    # so that the rest of the week is drawn as before.
    for back in NIGHT_DAYS_BACK:
        at = week.local(today - timedelta(days=back), time(week.random.randrange(6), 0))
        plan_conversation(week, number, queue, tags, at, outage=outage)
    # Every score from 1 to 5 among the last 7 days' answers, whatever the draw (a 1 is rare:
    # about one week in a hundred had none). Planned last too.
    rated = {s.rating for s in week.rows.surveys if s.rating and s.answered_at >= first_day}
    for rating in sorted(set(RATING_WEIGHTS) - rated):
        at = week.local(today - timedelta(days=RATED_DAYS_BACK), time(10, rating))
        plan_conversation(week, number, queue, tags, at, outage=outage, rating=rating)
    # A reply held while the number was down, whatever the draw (a draw cut at another
    # minute left the outage without one): customers writing as it starts. Planned last too.
    for minutes in range(0, OUTAGE_LENGTH.seconds // 60, 5):
        if any(d[0] == "defer" for _, decisions, _ in week.rows.sends for d in decisions):
            break
        at = outage[0] + timedelta(minutes=minutes)
        plan_conversation(week, number, queue, tags, at, outage=outage)
    return week.rows


def plan_conversation(
    week: Week,
    number: Number,
    queue: Queue,
    tags: dict[str, Tag],
    opened: datetime,
    *,
    outage: tuple[datetime, datetime],
    reopens: bool = False,
    transfers: bool = False,
    rating: int | None = None,
) -> None:
    """One conversation's rows, or none when it would not be over before `week.until`; its
    survey answered with `rating`, when it is given."""
    rng = week.random
    tag_name, turns = rng.choice(TOPICS)
    # Stop after an agent's turn, sometimes early: not every chat goes the whole way.
    ends = [n for n, (side, _) in enumerate(turns) if side == A and n > 0]
    last = rng.choice(ends[-2:]) if len(ends) > 1 and rng.random() < 0.3 else len(turns) - 1
    turns = turns[: last + 1]
    agent = week.agent()
    others = [m for m in week.members.values() if m.pk != agent.pk]
    conversation = Conversation(
        organization=week.org,
        number=number,
        queue=queue,
        status=Conversation.Status.RESOLVED,
        created_at=opened,
        opened_at=opened,
        first_inbound_at=opened,
        unread_count=0,
    )
    words = {
        "order": str(rng.randrange(4000, 9999)),
        "city": rng.choice(CITIES),
    }
    # (side, text, when, sender[, send error]).
    said: list[tuple] = []
    events: list[tuple] = []
    at = opened
    previous = C
    cycle_answered = False
    transfer_done = False
    for side, text in turns:
        if side == C:
            if said:
                # The customer answers within minutes, or hours later now and then.
                at += week.minutes(5) if rng.random() < 0.85 else week.minutes(180, cap=600)
            said.append((C, text, at, None))
            previous = C
            continue
        if previous == C:
            at = week.answer_after(at)
            if not cycle_answered:
                # Claimed just before the first reply, after the customer wrote.
                claimed = at - min(timedelta(seconds=40), (at - said[-1][2]) / 2)
                events.append(("conversation.assigned", agent, claimed,
                               {"assignee": agent.pk, "how": "claim", "previous": None}))  # fmt: skip
                conversation.assigned_at = claimed
                cycle_answered = True
        else:
            at = week.next_opening(at + week.minutes(1.5, cap=10))
        said.append((A, text, at, agent))
        if outage[0] <= at < outage[1]:
            # Held by the Gate until the number was back: the chat goes on after it left.
            at = goes_on(at, outage)
        elif rng.random() < FAILED_SHARE:
            # It failed; the operator sees it and sends it again a minute or two later (held
            # in turn if the number has gone down meanwhile).
            said[-1] = (A, text, at, agent, SEND_ERROR)
            at += timedelta(seconds=rng.uniform(40, 150))
            said.append((A, text, at, agent))
            at = goes_on(at, outage)
        previous = A
        if transfers and not transfer_done:
            # The first operator hands it to a colleague, who carries on.
            colleague = rng.choice(others)
            at += week.minutes(3, cap=20)
            events.append(("conversation.transferred", agent, at, {
                "previous": agent.pk, "to_member": colleague.pk, "to_queue": None,
                "note": rng.choice(TRANSFER_NOTES),
            }))  # fmt: skip
            conversation.assigned_at = at
            agent, transfer_done = colleague, True
    resolved = week.next_opening(at + week.minutes(8, cap=60))
    events.append(("conversation.resolved", agent, resolved, {"reason": "", "previous": "open"}))
    first_cycle = {"first_inbound_at": opened, "first_response_at": first_reply(said)}
    if reopens:
        # The customer writes again the next hours (within the reopen window): a new cycle.
        back = resolved + week.minutes(240, spread=0.6, cap=20 * 60)
        events.append(("conversation.reopened", None, back, {"previous": "resolved"}))
        pick = rng.randrange(len(COMING_BACK))
        said.append((C, COMING_BACK[pick], back, None))
        answer = week.answer_after(back)
        said.append((A, ANSWER_AGAIN[pick], answer, agent))
        thanks = goes_on(answer, outage) + week.minutes(6)
        said.append((C, THANKS, thanks, None))
        resolved = week.next_opening(thanks + week.minutes(5, cap=30))
        events.append(
            ("conversation.resolved", agent, resolved, {"reason": "", "previous": "open"})
        )
        first_cycle = {"first_inbound_at": back, "first_response_at": answer}
        conversation.opened_at = back
    if resolved >= week.until:
        return
    survey = ask(week, conversation, agent, resolved, said, outage, rating)
    if survey.rating:
        events.append(("conversation.rated", None, survey.answered_at, {
            "rating": survey.rating, "comment": survey.comment, "agent": agent.pk,
        }))  # fmt: skip
    contact = week.new_contact(opened)
    conversation.contact = contact
    conversation.assignee = agent
    conversation.first_inbound_at = first_cycle["first_inbound_at"]
    conversation.first_response_at = first_cycle["first_response_at"]
    conversation.first_response_due_at, conversation.resolution_due_at = deadlines.due_times(
        conversation.opened_at,
        queue.first_response_minutes,
        queue.resolution_minutes,
        week.schedule,
    )
    conversation.resolved_at = resolved
    conversation.last_message_at = max(line[2] for line in said)  # the survey's included
    conversation.last_inbound_at = max(line[2] for line in said if line[0] == C)
    week.rows.conversations.append(conversation)
    if tag_name:
        week.rows.tagged.append((conversation, tags[tag_name]))
        events.append(("conversation.tagged", agent, conversation.first_response_at,
                       {"tag": tags[tag_name].pk, "name": tag_name}))  # fmt: skip
    words["first"] = contact.name.split(" ")[0]
    for side, text, when, sender, *error in said:
        fill = {**words, "agent": sender.display_name.split(" ")[0] if sender else ""}
        body = text.format(**fill)
        add_message(week, conversation, side, body, when, sender, said, outage, bool(error))
        if side == Q:
            survey.question_message = week.rows.messages[-1]
    for verb, actor, when, data in events:
        label = "customer" if actor is None else "system"
        week.rows.events.append((conversation, verb, actor, label, when, data))


def goes_on(sent: datetime, outage: tuple[datetime, datetime]) -> datetime:
    """When a chat goes on after a message the business wrote at `sent`: at once, or once the
    number is back (`add_message` holds what is written while it is down until then)."""
    return outage[1] + timedelta(seconds=30) if outage[0] <= sent < outage[1] else sent


def ask(
    week: Week,
    conversation: Conversation,
    agent: Member,
    resolved: datetime,
    said: list,
    outage: tuple[datetime, datetime],
    rating: int | None = None,
):
    """The survey of the conversation's last resolution, as `surveys.services.ask` makes it:
    its question (Q) leaves on the resolution (or once the number is back); most customers
    answer within hours of it, before `week.until`, with a rating (`rating`, when it is
    given: then always) and now and then a comment (C). The conversation stays resolved."""
    rng = week.random
    survey = Survey(
        organization=week.org,
        conversation=conversation,
        agent=agent,
        queue=conversation.queue,
        number=conversation.number,
        asked_at=resolved,
        expires_at=resolved + SURVEY_OPEN,
    )
    said.append((Q, SURVEY_QUESTION, resolved, None))
    answered = goes_on(resolved, outage) + week.minutes(20, spread=1.2, cap=12 * 60)
    if (rng.random() < ANSWERED_SHARE or rating) and answered < week.until:
        rating = rating or rng.choices(list(RATING_WEIGHTS), weights=RATING_WEIGHTS.values())[0]
        comment = rng.choice(COMMENTS[rating]) if rng.random() < COMMENTED_SHARE else ""
        survey.rating, survey.comment, survey.answered_at = rating, comment, answered
        said.append((C, f"{rating} {comment}".strip(), answered, None))
    week.rows.surveys.append(survey)
    return survey


def first_reply(said: list[tuple]) -> datetime:
    return next(line[2] for line in said if line[0] == A)


def add_message(
    week: Week,
    conversation: Conversation,
    side: str,
    body: str,
    at: datetime,
    sender: Member | None,
    said: list[tuple],
    outage: tuple[datetime, datetime],
    failed: bool,
) -> None:
    rng = week.random
    common = {
        "organization": week.org,
        "conversation": conversation,
        "number": conversation.number,
        "body": body,
        "created_at": at,
    }
    if side == C:
        week.rows.messages.append(
            Message(
                direction=Message.Direction.INBOUND,
                status=Message.Status.RECEIVED,
                provider_message_id=f"HIST{len(week.rows.messages):06d}",
                **common,
            )
        )
        return
    decisions = []
    leaves = at + timedelta(seconds=rng.uniform(1, 4))
    if outage[0] <= at < outage[1]:
        # Written while the number was down: held until it was back, then sent.
        decisions.append(("defer", *NOT_CONNECTED, at, at + RECHECK))
        leaves = outage[1] + timedelta(seconds=rng.uniform(2, 30))
    decisions.append(("allow", *ALLOWED, leaves if decisions else at, None))
    message = Message(
        direction=Message.Direction.OUTBOUND, sender=sender, status=Message.Status.SENT, **common
    )
    if failed:
        message.status, message.error = Message.Status.FAILED, SEND_ERROR
    else:
        message.sent_at = leaves
        message.provider_message_id = f"HIST{len(week.rows.messages):06d}"
        # What the customer's phone said: read by their next message, most of the time.
        answered = [line[2] for line in said if line[0] == C and line[2] > at]
        fate = rng.random()
        if fate < 0.95:
            message.status = Message.Status.DELIVERED
            message.delivered_at = leaves + timedelta(seconds=rng.uniform(1, 40))
        if fate < 0.8:
            message.status = Message.Status.READ
            seen = answered[0] if answered else message.delivered_at + week.minutes(20)
            message.read_at = max(seen - timedelta(seconds=20), message.delivered_at)
        for stamp in ("delivered_at", "read_at"):
            if (getattr(message, stamp) or at) >= week.until:
                message.status, message.delivered_at, message.read_at = "sent", None, None
    week.rows.messages.append(message)
    week.rows.sends.append((message, decisions, SEND_ERROR if failed else ""))


def save(rows: Rows, org: Organization, number: Number) -> None:
    """The rows in a few bulk inserts, parents first."""
    Contact.objects.bulk_create(rows.contacts)
    ContactIdentity.objects.bulk_create(
        ContactIdentity(
            organization=org, contact=contact, kind=kind, value=value, created_at=contact.created_at
        )
        for contact in rows.contacts
        for kind, value in Identifiers.of(phone=contact.phone).pairs()
    )
    Conversation.objects.bulk_create(rows.conversations)
    Conversation.tags.through.objects.bulk_create(
        Conversation.tags.through(conversation=conversation, tag=tag)
        for conversation, tag in rows.tagged
    )
    Message.objects.bulk_create(rows.messages)
    for survey in rows.surveys:
        # The key `surveys.services.ask` gives it, and its question's intent.
        survey.key = f"survey:{survey.conversation.pk}:{survey.asked_at.timestamp():.6f}"
    Survey.objects.bulk_create(rows.surveys)
    asking = {survey.question_message.pk: survey.key for survey in rows.surveys}
    intents = [
        MessageIntent(
            organization=org,
            number=number,
            contact=message.conversation.contact,
            conversation=message.conversation,
            origin=MessageIntent.Origin.SURVEY
            if message.pk in asking
            else MessageIntent.Origin.CHAT_MANUAL,
            body=message.body,
            idempotency_key=asking.get(message.pk, f"demo-history:{message.pk}"),
            status=MessageIntent.Status.FAILED if error else MessageIntent.Status.SENT,
            created_by=message.sender,
            created_at=message.created_at,
        )
        for message, _, error in rows.sends
    ]
    MessageIntent.objects.bulk_create(intents)
    decisions, jobs, events = [], [], []
    for intent, (message, verdicts, error) in zip(intents, rows.sends, strict=True):
        events.append(
            (intent, "intent.created", message.sender, "system", message.created_at,
             {"origin": intent.origin})
        )  # fmt: skip
        for verdict, code, reason, at, until in verdicts:
            decisions.append(
                GateDecision(
                    organization=org,
                    intent=intent,
                    number=number,
                    verdict=verdict,
                    reason_code=code,
                    reason=reason,
                    defer_until=until,
                    created_at=at,
                )
            )
            events.append((intent, f"gate.{verdict}", None, "gate", at, {"reason": reason}))
        done = message.sent_at or message.created_at + timedelta(seconds=2)
        jobs.append(
            ExecutionJob(
                organization=org,
                intent=intent,
                number=number,
                contact=intent.contact,
                message=message,
                status=ExecutionJob.Status.FAILED if error else ExecutionJob.Status.SENT,
                run_after=verdicts[-1][3],
                attempts=1,
                provider_message_id=message.provider_message_id,
                last_error=error,
                created_at=message.created_at,
                updated_at=done,
            )
        )
        verb, data = ("job.failed", {"error": error}) if error else (
            "job.sent", {"provider_message_id": message.provider_message_id, "how": "worker"}
        )  # fmt: skip
        events.append((intent, verb, None, "worker", done, data))
    GateDecision.objects.bulk_create(decisions)
    ExecutionJob.objects.bulk_create(jobs)
    heard(number, ProviderEvent.objects.bulk_create(webhooks(rows, org, number)))
    OperationalEvent.objects.bulk_create(
        OperationalEvent(
            organization=org,
            actor=actor,
            actor_label=actor.display_name if actor else label,
            verb=verb,
            object_type=obj._meta.model_name,
            object_id=obj.pk,
            data=data,
            created_at=at,
        )
        for obj, verb, actor, label, at, data in sorted(
            rows.events + events, key=lambda event: event[4]
        )
    )


def heard(number: Number, stored: list[ProviderEvent]) -> None:
    """The number's last webhook as if these had come through the inbound path."""
    if stored:
        heard_from([number], max(event.received_at for event in stored))


def webhooks(rows: Rows, org: Organization, number: Number) -> list[ProviderEvent]:
    """What the provider posted about the last WEBHOOK_DAYS, as stored when it arrived: each
    customer's message and each status of a reply (the number's webhook health reads the
    latest; older ones would only make loading the demo slower)."""
    found = []
    since = max(m.created_at for m in rows.messages) - timedelta(days=WEBHOOK_DAYS)
    for message in rows.messages:
        if message.created_at < since:
            continue
        if message.direction == Message.Direction.INBOUND:
            contact = message.conversation.contact
            arrivals = [
                (
                    InboundMessage(
                        provider_message_id=message.provider_message_id,
                        phone=contact.phone,
                        name=contact.name,
                        kind="text",
                        body=message.body,
                        timestamp=message.created_at,
                    ),
                    message.created_at,
                )
            ]
        else:
            arrivals = [
                (StatusUpdate(message.provider_message_id, status), at)
                for status, at in (
                    ("sent", message.sent_at),
                    ("delivered", message.delivered_at),
                    ("read", message.read_at),
                )
                if at is not None
            ]
        for event, at in arrivals:
            kind = type(event).__name__
            found.append(
                ProviderEvent(
                    organization=org,
                    number=number,
                    kind=kind,
                    dedupe_key=f"demo-history:{kind}:{message.provider_message_id}:"
                    f"{getattr(event, 'status', '')}",
                    provider_message_id=message.provider_message_id,
                    event=event_record(event),
                    payload={"demo": "history"},
                    received_at=at,
                    processed_at=at,
                )
            )
    return found


# The sales pipeline's proposal follow-ups over the last days (demo.PROPOSAL_STEPS: at once,
# 2 days later, 5 days after that): (lead title, days ago it entered Proposta, what became of
# it: "sent" every due step sent; ("replied", days ago) the customer answered then, which
# stopped the rest; ("moved", days ago) it left for the stage it is in now, which stopped
# the rest).
PROPOSALS = (
    ("Cestas de café da manhã", 8, ("sent",)),
    ("Reposição de estoque", 5, ("replied", 4)),
    ("Presentes corporativos", 6, ("moved", 2)),
    ("Uniformes", 9, ("moved", 3)),
)
PROPOSAL_HOUR = time(10, 30)


def load_followups(
    org: Organization, automation: Automation, number: Number, *, now: datetime
) -> None:
    """The proposal automation's follow-ups of the last days, as the CRM and the engine left
    them: leads that entered Proposta days ago (their stage history moved back to then), the
    steps already due sent through the Gate and a job, the others stopped when the customer
    replied or the lead left the stage. Nothing is left to send: the demo schedules nothing."""
    zone = ZoneInfo(org.time_zone)
    today = now.astimezone(zone).date()
    steps = list(automation.steps.order_by("position"))
    leads = {
        lead.title: lead for lead in Lead.objects.for_org(org).select_related("contact", "stage")
    }
    follow_ups, sent, events = [], [], []
    for title, days_ago, (fate, *how) in PROPOSALS:
        lead = leads[title]
        entered = datetime.combine(today - timedelta(days=days_ago), PROPOSAL_HOUR, zone)
        current = StageChange.objects.filter(lead=lead).latest("created_at", "id")
        if lead.stage_id == automation.stage_id:
            change, left = current, None
            StageChange.objects.filter(pk=change.pk).update(created_at=entered)
            Lead.objects.filter(pk=lead.pk).update(stage_entered_at=entered)
        else:
            left = datetime.combine(today - timedelta(days=how[0]), time(15), zone)
            change = StageChange.objects.create(
                organization=org, lead=lead, to_stage=automation.stage, created_at=entered
            )
            StageChange.objects.filter(pk=current.pk).update(
                from_stage=automation.stage, created_at=left
            )
            Lead.objects.filter(pk=lead.pk).update(stage_entered_at=left)
        Lead.objects.filter(pk=lead.pk).update(created_at=entered - timedelta(days=1))
        stopped_at = left or (
            datetime.combine(today - timedelta(days=how[0]), time(11, 5), zone)
            if fate == "replied"
            else None
        )
        reason = {"replied": "contact_replied", "moved": "left_stage"}.get(fate, "")
        due = entered
        for step in steps:
            due += timedelta(**{step.delay_unit: step.delay})
            stopped = stopped_at is not None and stopped_at < due
            if due >= now and not stopped:
                break  # not due yet: such a step would still be waiting; none is
            intent = MessageIntent(
                organization=org,
                number=number,
                contact=lead.contact,
                origin=MessageIntent.Origin.AUTOMATION,
                body=step.render(step.template, lead),
                idempotency_key=followup_key(change, automation, step),
                status=MessageIntent.Status.FAILED if stopped else MessageIntent.Status.SENT,
                not_before=due,
                created_at=entered,
            )
            follow_ups.append(
                FollowUp(
                    organization=org,
                    lead=lead,
                    contact=lead.contact,
                    stage_change=change,
                    automation=automation,
                    step=step,
                    position=step.position,
                    intent=intent,
                    due_at=due,
                    cancelled_at=stopped_at if stopped else None,
                    cancel_reason=reason if stopped else "",
                    created_at=entered,
                )
            )
            if stopped:
                events.append((lead, "followup.cancelled", stopped_at, {"reason": reason}))
            else:
                sent.append((intent, due))
    MessageIntent.objects.bulk_create([f.intent for f in follow_ups])
    FollowUp.objects.bulk_create(follow_ups)
    GateDecision.objects.bulk_create(
        GateDecision(
            organization=org,
            intent=intent,
            number=number,
            verdict="allow",
            reason_code=ALLOWED[0],
            reason=ALLOWED[1],
            created_at=due,
        )
        for intent, due in sent
    )
    ExecutionJob.objects.bulk_create(
        ExecutionJob(
            organization=org,
            intent=intent,
            number=number,
            contact=intent.contact,
            status=ExecutionJob.Status.SENT,
            run_after=due,
            attempts=1,
            provider_message_id=f"HISTFU{intent.pk:06d}",
            created_at=intent.created_at,
            updated_at=due + timedelta(seconds=2),
        )
        for intent, due in sent
    )
    # What the provider said of each (kept for the last days, as the replies'): without
    # them, a follow-up sent yesterday with nothing heard since made the number's card warn
    # that its messages were not arriving (numbers.webhooks.SILENT).
    stored = ProviderEvent.objects.bulk_create(
        ProviderEvent(
            organization=org,
            number=number,
            kind=StatusUpdate.__name__,
            dedupe_key=f"demo-history:StatusUpdate:HISTFU{intent.pk:06d}:{status}",
            provider_message_id=f"HISTFU{intent.pk:06d}",
            event=event_record(StatusUpdate(f"HISTFU{intent.pk:06d}", status)),
            payload={"demo": "history"},
            received_at=at,
            processed_at=at,
        )
        for intent, due in sent
        if due >= now - timedelta(days=WEBHOOK_DAYS)
        for status, at in (
            ("sent", due + timedelta(seconds=3)),
            ("delivered", due + timedelta(seconds=9)),
        )
    )
    heard(number, stored)
    OperationalEvent.objects.bulk_create(
        OperationalEvent(
            organization=org,
            actor_label="automation",
            verb=verb,
            object_type=obj._meta.model_name,
            object_id=obj.pk,
            data=data,
            created_at=at,
        )
        for obj, verb, at, data in [
            *events,
            *(
                (f.intent, "intent.created", f.created_at, {"origin": "automation"})
                for f in follow_ups
            ),
            *((intent, "gate.allow", due, {"reason": ALLOWED[1]}) for intent, due in sent),
            *((intent, "job.sent", due, {"how": "worker"}) for intent, due in sent),
        ]
    )
