"""Exports (issue 19, item 5): each kind's file exactly, in CSV and XLSX, on the day of known
events of the Insights figures' tests; times in the organization's zone, headers in the
requester's language, formulas as text; another organization's rows never in it; two workers
never write one export; the file expires (410) and is deleted."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from openpyxl import load_workbook

from conversa.accounts.models import Member, OperationalEvent
from conversa.errors import Conflict, Forbidden, NotFound, Refused
from conversa.inbox.models import Contact, Conversation, Message
from conversa.insights import exports, figures
from conversa.insights.models import Export
from tests.insights.test_figures import DAY, END, START, at

BOM = "\ufeff"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def ask(org, kind, fmt="csv", member=None, **options) -> Export:
    return exports.request_export(
        org.org if hasattr(org, "org") else org,
        kind=kind,
        fmt=fmt,
        first_day=options.pop("first_day", DAY),
        last_day=options.pop("last_day", DAY),
        acting_member=member or owner_of(org),
        **options,
    )


def owner_of(org) -> Member:
    target = org.org if hasattr(org, "org") else org
    return Member.objects.filter(organization=target, role=Member.Role.OWNER).first()


def written(export: Export, worker: str = "w1") -> Export:
    """Run worker passes until the export is finished."""
    for _ in range(1000):
        if not exports.run_due(worker):
            break
    export.refresh_from_db()
    assert export.status == Export.Status.DONE, export.error
    return export


def csv_rows(export: Export) -> list[list[str]]:
    with exports.open_file(export) as handle:
        text = handle.read().decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text.removeprefix(BOM))))


def xlsx_rows(export: Export) -> list[list]:
    with exports.open_file(export) as handle:
        book = load_workbook(io.BytesIO(handle.read()))
    return [[cell.value for cell in row] for row in book.active.iter_rows()]


def test_conversations_as_csv(day):
    Contact.objects.filter(pk=day.c1.contact_id).update(name='=HYPERLINK("http://x")')
    export = written(ask(day, "conversations"))
    rows = csv_rows(export)
    assert rows[0] == [
        "Conversation",
        "Contact",
        "Phone",
        "Number",
        "Queue",
        "Assigned to",
        "Status",
        "Opened",
        "First response",
        "Resolved",
        "Tags",
    ]
    c1, c2, c4 = day.c1, day.c2, day.c4
    assert rows[1:] == [
        [
            str(c1.pk),
            '\'=HYPERLINK("http://x")',
            f"+{c1.contact.phone}",
            day.number.name,
            "",
            day.a.display_name,
            "Resolved",
            "2026-06-01 08:00:00",
            "2026-06-01 09:30:00",
            "2026-06-01 10:00:00",
            "",
        ],
        [
            str(c2.pk),
            "Cliente",
            f"+{c2.contact.phone}",
            day.number.name,
            "",
            day.b.display_name,
            "Open",
            "2026-06-01 10:00:00",
            "2026-06-01 10:10:00",
            "",
            "",
        ],
        [
            str(c4.pk),
            "Cliente",
            f"+{c4.contact.phone}",
            day.number.name,
            "",
            "",
            "Open",
            "2026-06-01 12:00:00",
            "",
            "",
            "VIP",
        ],
    ]
    assert (export.rows_done, export.rows_total, export.percent) == (3, 3, 100)
    assert export.expires_at > timezone.now() + timedelta(hours=23)


def test_messages_as_xlsx_with_real_dates_in_the_organizations_zone(day):
    Message.objects.filter(conversation=day.c4, created_at=at(13)).update(body="-1+2 e @todos")
    rows = xlsx_rows(written(ask(day, "messages", "xlsx")))
    assert rows[0] == [
        "Message",
        "Conversation",
        "Direction",
        "Number",
        "Contact",
        "Phone",
        "Sent by",
        "Status",
        "Time",
        "Text",
    ]
    assert len(rows) == 1 + 8  # the day's messages; c3's from the day before is not
    by_time = {row[8].strftime("%H:%M"): row for row in rows[1:]}
    assert by_time["09:30"][2:8] == [
        "Out",
        day.number.name,
        "Cliente",
        f"+{day.c1.contact.phone}",
        day.a.display_name,
        "Read",
    ]
    assert by_time["13:00"][9] == "'-1+2 e @todos"
    assert by_time["08:00"][6] is None  # the customer's: no member sent it
    assert by_time["08:00"][8].tzinfo is None  # wall-clock time, as Excel keeps it


def test_sending_decisions_in_portuguese(day):
    export = written(ask(day, "intents", language="pt-br"))
    rows = csv_rows(export)
    assert rows[0][:4] == ["Decidida em", "Mensagem a enviar", "Origem", "Estado agora"]
    assert sorted((row[7], row[8], row[9]) for row in rows[1:]) == [
        ("Adiada", "quiet_hours", "Quiet"),
        ("Bloqueada", "opted_out", "Opted out"),
        ("Permitido", "", ""),
        ("Permitido", "", ""),
    ]
    assert {row[0] for row in rows[1:]} == {"2026-06-01 15:00:00"}


def test_the_per_agent_table_is_the_insights_one(day):
    rows = xlsx_rows(written(ask(day, "agents", "xlsx")))
    table = figures.per_agent(day.org, START, END, figures.NONE)
    assert rows[0] == [
        "Agent",
        "Handled",
        "First response, median (seconds)",
        "Resolution, median (seconds)",
        "Open now",
    ]
    assert rows[1:] == [
        [
            r["name"],
            r["handled"],
            r["first_response_median"] and round(r["first_response_median"]),
            r["resolution_median"] and round(r["resolution_median"]),
            r["open"],
        ]
        for r in table
    ]
    a = next(row for row in rows if row[0] == day.a.display_name)
    assert a == [day.a.display_name, 1, 1800, 3600, 1]


def test_the_audit_log_with_its_filters(day):
    OperationalEvent.objects.create(
        organization=day.org,
        actor=day.a,
        actor_label=day.a.display_name,
        verb="conversation.tagged",
        object_type="conversation",
        object_id=day.c4.pk,
        data={"tag": "=cmd"},
        ip_address="203.0.113.9",
        created_at=at(16),
    )
    export = written(ask(day, "audit", filters={"member_id": day.a.pk}))
    rows = csv_rows(export)
    assert rows == [
        [
            "When",
            "Who",
            "Action",
            "Action code",
            "Object",
            "Object id",
            "IP address",
            "Browser",
            "Details",
        ],
        [
            "2026-06-01 16:00:00",
            day.a.display_name,
            "Tagged a conversation",
            "conversation.tagged",
            "Conversation",
            str(day.c4.pk),
            "203.0.113.9",
            "",
            '{"tag": "=cmd"}',
        ],
    ]
    assert OperationalEvent.objects.filter(
        organization=day.org, verb="export.requested", object_id=export.pk
    ).exists()


def test_filters_narrow_the_rows_as_the_figures(day):
    rows = csv_rows(written(ask(day, "conversations", filters={"tag_id": day.tag.pk})))
    assert [row[0] for row in rows[1:]] == [str(day.c4.pk)]
    rows = csv_rows(written(ask(day, "messages", filters={"agent_id": day.b.pk})))
    assert {row[1] for row in rows[1:]} == {str(day.c2.pk)}


def test_another_organizations_rows_never_appear(day, other_org):
    theirs = other_org.customer_writes("5511977776666", "Segredo")
    Message.objects.filter(pk=theirs.pk).update(created_at=at(9))
    Conversation.objects.filter(pk=theirs.conversation_id).update(created_at=at(9))
    for kind in ("conversations", "messages", "intents", "agents", "audit"):
        with exports.open_file(written(ask(day, kind))) as handle:
            text = handle.read().decode()
        assert "Segredo" not in text and "5511977776666" not in text, kind
        assert other_org.owner.display_name not in text, kind
    with pytest.raises(NotFound):
        ask(day, "messages", filters={"number_id": other_org.number.pk})
    with pytest.raises(NotFound):
        ask(day, "audit", filters={"member_id": other_org.owner.pk})
    mine = ask(day, "messages")
    assert not exports.visible(other_org.org, other_org.owner).filter(pk=mine.pk).exists()


def test_who_may_ask_and_see(day, org):
    supervisor, agent = org.member(Member.Role.SUPERVISOR), org.member(Member.Role.AGENT)
    with pytest.raises(Forbidden):
        ask(day, "messages", member=agent)
    with pytest.raises(Forbidden):
        ask(day, "audit", member=supervisor)
    theirs = ask(day, "messages", member=supervisor)
    owners = ask(day, "conversations")
    assert set(exports.visible(day.org, supervisor)) == {theirs}
    assert set(exports.visible(day.org, owner_of(day))) == {theirs, owners}
    assert not exports.visible(day.org, agent).exists()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"kind": "contacts"}, "kind"),
        ({"fmt": "pdf"}, "format"),
        ({"first_day": DAY, "last_day": DAY - timedelta(days=1)}, "end"),
        ({"first_day": date(1999, 1, 1)}, "end"),
        ({"filters": {"colour": 1}}, "filters"),
        ({"filters": {"number_id": "1; DROP"}}, "filters"),
        ({"filters": {"number_id": 2**63}}, "filters"),
        ({"kind": "audit", "filters": {"verb": "Robert'); --"}}, "filters"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(day, options, field):
    kind = options.pop("kind", "messages")
    with pytest.raises(Refused) as refused:
        ask(day, kind, options.pop("fmt", "csv"), **options)
    assert refused.value.status == 422
    assert refused.value.field == field


def test_two_workers_never_write_one_export(day):
    export = ask(day, "messages")
    first = exports.claim("w1")
    assert first is not None and first.pk == export.pk
    assert exports.claim("w2") is None
    # w1 dies: once its lease ends, w2 takes the export over and w1 can no longer save.
    Export.objects.filter(pk=export.pk).update(claimed_until=timezone.now() - timedelta(1))
    assert exports.claim("w2").pk == export.pk
    with pytest.raises(exports.LostClaim):
        exports.progress(first, "w1", rows_done=1)
    assert exports.run_due("w1") == 0
    written(export, worker="w2")
    assert len(csv_rows(Export.objects.get(pk=export.pk))) == 1 + 8


def test_a_large_export_is_written_over_several_passes(day, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 3)
    export = ask(day, "messages")
    exports.run_due("w1", seconds=0)  # one chunk, then the pass ends
    export.refresh_from_db()
    assert (export.status, export.rows_done, export.rows_total) == ("running", 3, 8)
    assert 0 < export.percent < 100
    written(export)
    assert len(csv_rows(export)) == 1 + 8


def test_an_expired_export_is_deleted_and_its_link_is_gone(day, client):
    export = written(ask(day, "messages"))
    path = export.file_path
    client.force_login(owner_of(day).user)
    url = f"/exports/{export.pk}/file"
    assert client.get(url).status_code == 200
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    page = client.get(url)
    assert page.status_code == 410
    assert "This export has expired" in page.content.decode()
    assert exports.sweep() == 1
    assert not default_storage.exists(path)
    export.refresh_from_db()
    assert (export.status, export.file_path) == (Export.Status.EXPIRED, "")
    assert client.get(url).status_code == 410


def test_a_failed_filter_fails_the_export_in_words(day):
    export = ask(day, "messages", filters={"tag_id": day.tag.pk})
    day.tag.delete()
    assert exports.run_due("w1") == 1
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert export.error == "Choose a number, queue, member and tag from the lists."


def test_a_member_has_a_few_exports_waiting_at_most(day):
    for _ in range(exports.MAX_UNFINISHED):
        ask(day, "messages")
    with pytest.raises(Conflict):
        ask(day, "messages")
    written(Export.objects.filter(organization=day.org).first())
    ask(day, "messages")  # one is ready: room for another


def test_a_file_gone_from_the_storage_is_a_410(day, client):
    export = written(ask(day, "messages"))
    default_storage.delete(export.file_path)
    client.force_login(owner_of(day).user)
    assert client.get(f"/exports/{export.pk}/file").status_code == 410
