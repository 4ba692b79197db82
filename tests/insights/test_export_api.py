"""The exports' API and pages: ask (202), follow, download; bad input is a 422 naming the field,
another organization's export or filter a 404, an expired file a 410; the pages carry the
period and filters shown."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from conversa.accounts.models import Member
from conversa.insights import exports, periods
from conversa.insights.models import Export
from tests.insights.test_exports import BOM, written

API = "/api/exports"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


class Api:
    def __init__(self, org, member=None):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {org.api_token(member)}"}

    def get(self, path):
        return self.client.get(path, headers=self.headers)

    def post(self, path, body):
        return self.client.post(path, body, content_type="application/json", headers=self.headers)


def test_ask_follow_and_download(day, org):
    api = Api(org)  # the day's organization
    asked = api.post(
        API,
        {
            "kind": "messages",
            "format": "csv",
            "start": "2026-06-01",
            "end": "2026-06-01",
            "filters": {"number_id": day.number.pk},
        },
    )
    assert asked.status_code == 202, asked.content
    body = asked.json()
    assert (body["status"], body["kind"], body["file_url"]) == ("queued", "messages", None)
    assert body["url"] == f"{API}/{body['id']}"
    assert api.get(f"{body['url']}/file").status_code == 409
    written(Export.objects.get(pk=body["id"]))
    status = api.get(body["url"]).json()
    assert (status["status"], status["percent"], status["rows_done"]) == ("done", 100, 8)
    answer = api.get(status["file_url"])
    assert answer.status_code == 200 and answer.streaming
    assert answer["Content-Disposition"] == (
        'attachment; filename="messages-2026-06-01-2026-06-01.csv"'
    )
    text = b"".join(answer.streaming_content).decode().removeprefix(BOM)
    assert len(list(csv.reader(io.StringIO(text)))) == 1 + 8


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"kind": "contacts"}, ["body", "payload", "kind"]),
        ({"kind": "messages", "format": "pdf"}, ["body", "payload", "format"]),
        ({"kind": "messages", "start": "2026-06-02", "end": "2026-06-01"}, ["body", "end"]),
        ({"kind": "messages", "start": "1999-01-01", "end": "1999-01-02"}, ["body", "start"]),
        ({"kind": "messages", "filters": {"number_id": 0}}, ["body", "payload", "filters"]),
        ({"kind": "audit", "filters": {"verb": "DROP TABLE"}}, ["body", "filters"]),
        ({"kind": "messages", "filters": {"verb": "member.invited"}}, ["body", "filters"]),
    ],
)
def test_bad_input_is_a_422_naming_the_field(org, body, where):
    answer = Api(org).post(API, body)
    assert answer.status_code == 422, answer.content
    errors = answer.json()["errors"]
    assert errors[0]["loc"][: len(where)] == where


def test_another_organizations_export_and_filters_are_404(org, other_org):
    theirs = exports.request_export(
        other_org.org,
        kind="messages",
        fmt="csv",
        first_day=periods.today(other_org.org),
        last_day=periods.today(other_org.org),
        acting_member=other_org.owner,
    )
    api = Api(org)
    assert api.get(f"{API}/{theirs.pk}").status_code == 404
    assert api.get(f"{API}/{theirs.pk}/file").status_code == 404
    foreign = api.post(API, {"kind": "messages", "filters": {"tag_id": 10**12}})
    assert foreign.status_code == 404
    assert foreign.json()["error"] == "not_found"
    assert org.client().get(f"/exports/{theirs.pk}/file").status_code == 404


def test_agents_export_nothing_and_supervisors_not_the_audit_log(org):
    agent, supervisor = org.member(Member.Role.AGENT), org.member(Member.Role.SUPERVISOR)
    assert Api(org, agent).post(API, {"kind": "agents"}).status_code == 403
    assert Api(org, supervisor).post(API, {"kind": "audit"}).status_code == 403
    assert Api(org, supervisor).post(API, {"kind": "agents"}).status_code == 202
    assert org.client(agent).get("/exports/").status_code == 403


def test_an_expired_file_is_a_410(org):
    asked = Api(org).post(API, {"kind": "conversations", "period": "today"}).json()
    written(Export.objects.get(pk=asked["id"]))
    Export.objects.filter(pk=asked["id"]).update(expires_at=timezone.now() - timedelta(1))
    answer = Api(org).get(f"{API}/{asked['id']}/file")
    assert answer.status_code == 410
    assert answer.json()["error"] == "gone"
    assert Api(org).get(asked["url"]).json()["status"] == "expired"


def test_the_insights_page_posts_its_period_and_filters(day, client):
    owner = Member.objects.get(organization=day.org, role=Member.Role.OWNER)
    client.force_login(owner.user)
    page = client.get(
        f"/insights/?period=custom&start=2026-06-01&end=2026-06-01&tag={day.tag.pk}"
    ).content.decode()
    assert 'action="/exports/new"' in page
    for hidden in ("start", "end", "tag"):
        assert f'type="hidden" name="{hidden}"' in page
    answer = client.post(
        "/exports/new",
        {
            "kind": "conversations",
            "format": "xlsx",
            "start": "2026-06-01",
            "end": "2026-06-01",
            "tag": str(day.tag.pk),
        },
    )
    assert answer.status_code == 302
    export = Export.objects.get(organization=day.org)
    assert (export.kind, export.format, export.filters) == (
        "conversations",
        "xlsx",
        {"tag_id": day.tag.pk},
    )
    listing = client.get("/exports/").content.decode()
    assert f'id="export-{export.pk}"' in listing and 'hx-trigger="every 2s"' in listing
    bad = client.post("/exports/new", {"kind": "messages", "format": "csv", "start": "junho"})
    assert bad.status_code == 400
    assert "Enter the period&#x27;s days as dates." in bad.content.decode()


def test_the_audit_log_page_exports_its_filters(org):
    client = org.client()
    page = client.get("/settings/audit/?action=member.invited").content.decode()
    assert 'name="kind" value="audit"' in page
    assert 'name="action" value="member.invited"' in page
    answer = client.post(
        "/exports/new", {"kind": "audit", "format": "csv", "action": "member.invited"}
    )
    assert answer.status_code == 302
    export = Export.objects.get(organization=org.org)
    assert export.filters == {"verb": "member.invited"}
    assert export.last_day == periods.today(org.org)  # the organization's own today
