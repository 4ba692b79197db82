"""The campaigns' API and the recipients' export (issue 18, item 6): a campaign's whole life
through the API, its bounds and roles, and the CSV and XLSX downloads."""

import asyncio
import csv
import io
import warnings
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from conversa.asgi import application
from conversa.campaigns.models import Campaign, CampaignRecipient, Segment
from conversa.engine import services as engine
from conversa.inbox.models import Contact, Tag
from conversa.numbers.models import Number
from tests.campaigns.test_campaigns import Provider, drain, person, tagged
from tests.conftest import cloud_number, make_org

BOM = "\ufeff"


@pytest.fixture
def sent(monkeypatch) -> Provider:
    fake = Provider()
    monkeypatch.setattr(engine, "get_provider", lambda number: fake)
    return fake


class Api:
    """A member's API client: `get`/`post`/`patch` with their token, JSON in and out."""

    def __init__(self, org, member=None):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {org.api_token(member)}"}

    def get(self, path, params=None, *, language="en"):
        headers = {**self.headers, "Accept-Language": language}
        return self.client.get(path, params or {}, headers=headers)

    def post(self, path, body=None):
        return self.client.post(
            path, body or {}, content_type="application/json", headers=self.headers
        )

    def patch(self, path, body):
        return self.client.patch(path, body, content_type="application/json", headers=self.headers)


def new_campaign(org, tag, **fields) -> dict:
    return {
        "name": "Black Friday",
        "body": "Olá {{contact.first_name}}, temos ofertas!",
        "number_ids": [org.number.pk],
        "tag_ids": [tag.pk],
        "pace_per_minute": 0,
        **fields,
    }


def test_a_campaign_lives_its_whole_life_through_the_api(org, sent):
    tag = tagged(org)
    ana = person(org, "5511900000001")
    bruno = person(org, "5511900000002", name="Bruno Lima", agreed=False)
    for contact in (ana, bruno):
        contact.tags.add(tag)
    api = Api(org)

    created = api.post("/api/campaigns", new_campaign(org, tag))
    assert created.status_code == 201, created.content
    campaign = created.json()
    assert (campaign["status"], campaign["number_ids"], campaign["tag_ids"]) == (
        "draft",
        [org.number.pk],
        [tag.pk],
    )
    path = f"/api/campaigns/{campaign['id']}"
    assert [c["id"] for c in api.get("/api/campaigns").json()] == [campaign["id"]]

    preview = api.get(f"{path}/preview", {"contact_id": ana.pk}).json()
    assert preview["would_send"] and preview["body"] == "Olá Ana, temos ofertas!"
    skipped = api.get(f"{path}/preview", {"contact_id": bruno.pk}).json()
    assert (skipped["would_send"], skipped["skip_reason"]) == (False, "no_consent")
    assert skipped["why"] == "No marketing consent"

    changed = api.patch(path, {"name": "Black Friday 2025", "pace_per_minute": 30})
    assert (changed.json()["name"], changed.json()["pace_per_minute"]) == ("Black Friday 2025", 30)
    assert changed.json()["body"] == campaign["body"]  # only what was sent changed

    started = api.post(f"{path}/start")
    assert started.status_code == 200, started.content
    shown = started.json()
    assert shown["status"] == "running"
    assert shown["progress"]["recipients"] == 2
    assert shown["progress"]["queued"] == 1
    assert shown["progress"]["skipped"] == {"no_consent": 1}
    assert shown["numbers"] == [
        {"id": org.number.pk, "name": org.number.name, "waiting": 1, "hold": ""}
    ]

    again = api.post(f"{path}/start")
    assert again.status_code == 409
    assert again.json() == {"error": "conflict", "detail": "This campaign has already started."}
    refused = api.patch(path, {"name": "Outro"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == "A campaign that has started can no longer be changed."

    assert api.post(f"{path}/pause").json()["status"] == "paused"
    assert api.post(f"{path}/pause").status_code == 409
    assert api.post(f"{path}/resume").json()["status"] == "running"
    drain()
    assert sent.sent == [("5511900000001", "Olá Ana, temos ofertas!")]
    after = api.get(path).json()["progress"]
    assert (after["sent"], after["queued"]) == (1, 0)
    report = api.get(f"{path}/report").json()
    assert report["progress"] == after
    assert sum(hour["sent"] for hour in report["over_time"]) == 1
    people = api.get(f"{path}/recipients").json()
    assert [(p["contact_id"], p["outcome"]) for p in people] == [
        (ana.pk, "Sent"),
        (bruno.pk, "No marketing consent"),
    ]
    assert people[0]["sent_at"] and people[1]["sent_at"] is None
    first = api.get(f"{path}/recipients", {"limit": 1})
    assert len(first.json()) == 1
    rest = api.get(f"{path}/recipients", {"limit": 1, "cursor": first["X-Next-Cursor"]})
    assert len(rest.json()) == 1 and rest.json()[0]["id"] != first.json()[0]["id"]
    # Once a recipient, the preview says what they got.
    assert api.get(f"{path}/preview", {"contact_id": ana.pk}).json()["would_send"]

    assert api.post(f"{path}/cancel").json()["status"] == "cancelled"
    assert api.post(f"{path}/cancel").status_code == 409
    over = api.post(f"{path}/start")
    assert (over.status_code, over.json()["detail"]) == (
        409,
        "This campaign is over: clone it to send it again.",
    )
    copy = api.post(f"{path}/clone")
    assert copy.status_code == 201
    assert copy.json()["status"] == "draft"
    assert copy.json()["cloned_from_id"] == campaign["id"]
    assert copy.json()["name"] == "Copy of Black Friday 2025"
    assert copy.json()["progress"]["recipients"] == 0
    statuses = {c["status"] for c in api.get("/api/campaigns").json()}
    assert statuses == {"draft", "cancelled"}
    assert [c["status"] for c in api.get("/api/campaigns", {"status": "draft"}).json()] == ["draft"]


def test_a_template_campaign_and_the_fields_that_replace_each_other(org):
    soon = timezone.localdate() + timedelta(days=30)
    tag = tagged(org)
    api = Api(org)
    cloud = cloud_number(org, provider_name="1234", app_secret="s" * 16)  # templates' numbers
    body = new_campaign(
        org,
        tag,
        number_ids=[cloud.pk],
        body="",
        template={"name": "oferta", "language": "pt_BR", "variables": ["{{contact.name}}"]},
        sending_hours={"mon": [["09:00", "12:00"], ["14:00", "18:00"]]},
        start_at=f"{soon.isoformat()}T09:00:00-03:00",
    )
    created = api.post("/api/campaigns", body).json()
    assert created["template"]["variables"] == ["{{contact.name}}"]
    assert created["sending_hours"] == {"mon": [["09:00", "12:00"], ["14:00", "18:00"]]}
    assert datetime.fromisoformat(created["start_at"]) == datetime.fromisoformat(
        f"{soon.isoformat()}T12:00:00+00:00"
    )
    path = f"/api/campaigns/{created['id']}"
    text = api.patch(path, {"body": "Oi {{contact.first_name}}"}).json()
    assert (text["body"], text["template"]) == ("Oi {{contact.first_name}}", None)
    back = api.patch(path, {"template": {"name": "oferta", "variables": []}}).json()
    assert (back["body"], back["template"]["name"]) == ("", "oferta")
    assert api.patch(path, {"start_at": None}).json()["start_at"] is None


def field_of(response) -> str:
    """The field a 422 names: the service's (numbers, tags…) or the schema's (number_ids…)."""
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"] == "invalid"
    where = body["errors"][0]["loc"]
    return where[where.index("payload") + 1] if "payload" in where else where[-1]


def test_bad_input_and_other_organizations_rows_are_refused_with_the_field(org, other_org):
    tag = tagged(org)
    theirs = tagged(other_org, "deles")
    segment = Segment.objects.create(organization=other_org.org, name="Deles")
    api = Api(org)
    create = lambda **fields: api.post("/api/campaigns", new_campaign(org, tag, **fields))  # noqa: E731

    assert field_of(create(number_ids=[other_org.number.pk])) == "numbers"
    assert field_of(create(tag_ids=[theirs.pk])) == "tags"
    assert field_of(create(segment_ids=[segment.pk])) == "segments"
    assert field_of(create(import_ids=[999999])) == "imports"
    assert field_of(create(number_ids=[0])) == "number_ids"
    assert field_of(create(number_ids=[2**63])) == "number_ids"
    assert field_of(create(tag_ids=list(range(1, 60)))) == "tag_ids"
    assert field_of(create(name="")) == "name"
    assert field_of(create(name="x" * 201)) == "name"
    assert field_of(create(body="Oi {{contact.idade anos}}")) == "body"
    assert field_of(create(body="Oi {{cliente.nome}}")) == "body"
    assert field_of(create(body="")) == "body"
    assert field_of(create(pace_per_minute=601)) == "pace_per_minute"
    assert field_of(create(reply_window_hours=0)) == "reply_window_hours"
    assert field_of(create(start_at="2031-01-01T09:00:00")) == "start_at"  # no zone
    assert field_of(create(start_at="0001-01-01T00:00:00+14:00")) == "start_at"
    assert field_of(create(start_at="2999-01-01T00:00:00Z")) == "start_at"  # over a year
    assert field_of(create(sending_hours={"mon": [["18:00", "09:00"]]})) == "sending_hours"
    assert field_of(create(sending_hours={"seg": [["09:00", "18:00"]]})) == "sending_hours"
    removed = Number.objects.create(
        organization=org.org, name="Old", provider_name="old", status=Number.Status.REMOVED
    )
    assert field_of(create(number_ids=[removed.pk])) == "numbers"
    assert Campaign.objects.count() == 0

    nobody = api.post("/api/campaigns", new_campaign(org, tag, tag_ids=[])).json()
    assert field_of(api.post(f"/api/campaigns/{nobody['id']}/start")) == "segments"
    assert field_of(api.patch(f"/api/campaigns/{nobody['id']}", {"pace_per_minute": -1})) == (
        "pace_per_minute"
    )

    stranger = Api(other_org).post("/api/campaigns", new_campaign(other_org, theirs)).json()
    path = f"/api/campaigns/{stranger['id']}"
    for answer in (
        api.get(path),
        api.patch(path, {"name": "Meu"}),
        api.post(f"{path}/start"),
        api.post(f"{path}/clone"),
        api.get(f"{path}/report"),
        api.get(f"{path}/recipients"),
        api.get(f"{path}/export"),
        org.client().get(f"/campaigns/{stranger['id']}/export.csv"),
        org.client().get(f"/campaigns/{stranger['id']}/export.xlsx"),
    ):
        assert answer.status_code == 404
    assert api.get(path).json()["error"] == "not_found"
    their_contact = person(other_org, "5511900000099")
    mine = f"/api/campaigns/{nobody['id']}"
    assert api.get(f"{mine}/preview", {"contact_id": their_contact.pk}).status_code == 404
    assert api.get(f"{mine}/preview", {"contact_id": 0}).status_code == 422
    assert api.get("/api/campaigns/0").status_code == 422
    assert api.get(f"{mine}/export", {"format": "pdf"}).status_code == 422
    assert api.get("/api/campaigns", {"limit": 201}).status_code == 422
    assert Campaign.objects.get(pk=stranger["id"]).name == "Black Friday"


def test_members_read_and_only_supervisors_and_up_change(org):
    tag = tagged(org)
    owner = Api(org)
    campaign = owner.post("/api/campaigns", new_campaign(org, tag)).json()
    path = f"/api/campaigns/{campaign['id']}"
    agent = Api(org, org.member())
    assert agent.get(path).status_code == 200
    assert agent.get("/api/campaigns").status_code == 200
    assert agent.get(f"{path}/report").status_code == 200
    for refused in (
        agent.post(f"{path}/start"),
        agent.post("/api/campaigns", new_campaign(org, tag)),
        agent.patch(path, {"name": "Meu"}),
        agent.post(f"{path}/clone"),
        agent.post(f"{path}/cancel"),
    ):
        assert refused.status_code == 403
        assert refused.json()["error"] == "forbidden"
    assert Campaign.objects.get(pk=campaign["id"]).status == Campaign.Status.DRAFT
    supervisor = Api(org, org.member("supervisor"))
    assert supervisor.post(f"{path}/start").json()["status"] == "running"


def started_campaign(org, sent) -> Campaign:
    tag = tagged(org)
    people = [
        person(org, "5511900000001", name="Ana Souza"),
        person(org, "5511900000002", name='=HYPERLINK("http://x")', agreed=False),
        person(org, "5511900000003", name="João Conceição", opted_out=True),
    ]
    for contact in people:
        contact.tags.add(tag)
    api = Api(org)
    body = new_campaign(org, tag, name="Promoção de Março!")
    campaign = api.post("/api/campaigns", body).json()
    api.post(f"/api/campaigns/{campaign['id']}/start")
    drain()
    return Campaign.objects.get(pk=campaign["id"])


def test_the_csv_export_opens_with_one_row_per_recipient_and_formulas_as_text(org, sent):
    campaign = started_campaign(org, sent)
    response = org.client().get(f"/campaigns/{campaign.pk}/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="promocao-de-marco-')
    assert disposition.endswith('.csv"')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert rows[0] == [
        "Name",
        "Phone",
        "Sent from",
        "Outcome",
        "Sent at",
        "Delivered at",
        "Read at",
        "Replied at",
    ]
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [
        ("Ana Souza", "+5511900000001", "Sent"),
        ('\'=HYPERLINK("http://x")', "+5511900000002", "No marketing consent"),
        ("João Conceição", "+5511900000003", "Opted out"),
    ]
    assert rows[1][2] == org.number.name
    assert datetime.strptime(rows[1][4], "%Y-%m-%d %H:%M")
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == len(rows) - 1


def test_the_export_speaks_the_requests_language_and_the_organizations_time(org, sent):
    org.org.time_zone = "America/Sao_Paulo"
    org.org.save()
    campaign = started_campaign(org, sent)
    api = Api(org)
    response = api.get(f"/api/campaigns/{campaign.pk}/export", language="pt-br")
    text = b"".join(response.streaming_content).decode("utf-8").removeprefix(BOM)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["Nome", "Telefone", "Enviada de", "Resultado"]
    assert rows[1][3] == "Enviada"
    message_sent = CampaignRecipient.objects.get(
        campaign=campaign, contact__phone="5511900000001"
    ).intent.job.message.sent_at
    local = message_sent.astimezone(ZoneInfo("America/Sao_Paulo"))
    assert rows[1][4] == local.strftime("%Y-%m-%d %H:%M")


def test_the_xlsx_export_opens_with_dates_and_formulas_as_text(org, sent):
    campaign = started_campaign(org, sent)
    response = Api(org).get(f"/api/campaigns/{campaign.pk}/export", {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response["Content-Disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:4] == ["Name", "Phone", "Sent from", "Outcome"]
    assert [(r[0], r[3]) for r in rows[1:]] == [
        ("Ana Souza", "Sent"),
        ('\'=HYPERLINK("http://x")', "No marketing consent"),
        ("João Conceição", "Opted out"),
    ]
    assert sheet.cell(row=3, column=1).data_type == "s"
    assert isinstance(rows[1][4], datetime)
    assert rows[2][4] is None
    page = org.client().get(f"/campaigns/{campaign.pk}/export.xlsx")
    assert page.status_code == 200
    assert len(load_workbook(io.BytesIO(b"".join(page.streaming_content))).active["A"]) == 4


def audience_of(org, size: int) -> Tag:
    tag = tagged(org)
    contacts = Contact.objects.bulk_create(
        Contact(organization=org.org, phone=f"55119{n:08d}", name=f"Pessoa {n}")
        for n in range(size)
    )
    Contact.tags.through.objects.bulk_create(
        Contact.tags.through(contact_id=c.pk, tag_id=tag.pk) for c in contacts
    )
    return tag


def test_a_2000_recipient_export_streams_in_chunks(org):
    tag = audience_of(org, 2000)
    api = Api(org)
    campaign = api.post("/api/campaigns", new_campaign(org, tag)).json()
    api.post(f"/api/campaigns/{campaign['id']}/start")
    response = api.get(f"/api/campaigns/{campaign['id']}/export")
    assert response.streaming
    chunks = list(response.streaming_content)
    assert len(chunks) > 2  # the header, then the lines a chunk at a time
    lines = b"".join(chunks).decode("utf-8").splitlines()
    assert len(lines) == 2001
    assert all(line.endswith("No marketing consent,,,,") for line in lines[1:])
    xlsx = api.get(f"/api/campaigns/{campaign['id']}/export", {"format": "xlsx"})
    assert xlsx.streaming
    assert load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active.max_row == 2001


@pytest.mark.django_db(transaction=True)
def test_under_asgi_the_export_is_sent_as_it_is_read():
    org = make_org()
    tag = audience_of(org, 1200)
    token = org.api_token()
    api = Api(org)
    campaign = api.post("/api/campaigns", new_campaign(org, tag)).json()
    api.post(f"/api/campaigns/{campaign['id']}/start")

    async def download():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.get(
                f"/api/campaigns/{campaign['id']}/export",
                headers={"Authorization": f"Bearer {token}"},
            )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = asyncio.run(download())
    # Django's warning when it reads a whole plain iterator into memory before sending it.
    assert not [w for w in caught if "iterators" in str(w.message)]
    assert response.status_code == 200
    lines = response.text.removeprefix(BOM).splitlines()
    assert len(lines) == 1201
