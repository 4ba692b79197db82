"""Contact imports (campaigns.imports): files read in any encoding a spreadsheet writes, rows
checked before anything is written, one contact per person, consent recorded with the row as
evidence, the same file imported twice changing nothing, and a crash mid-batch resumed."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import Workbook

from conversa.accounts.models import Member
from conversa.campaigns import consent, imports
from conversa.campaigns.models import Consent, ContactImport, ImportedContact
from conversa.engine.worker import Worker
from conversa.inbox import contacts
from conversa.inbox.models import Contact, ContactIdentity

HEADER = "telefone;nome;etiquetas;cidade;consentimento;data do consentimento\n"
COLUMNS = {0: "phone", 1: "name", 2: "tags", 3: "custom", 4: "consent", 5: "consent_date"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(org, text: str | bytes, name="lista.csv", columns=COLUMNS):
    data = text.encode() if isinstance(text, str) else text
    imp = imports.upload(org.org, file_name=name, data=data, acting_member=org.owner)
    if columns is not None:
        imports.set_mapping(imp, columns, acting_member=org.owner)
    return imp


def run(imp):
    imports.start(imp, acting_member=imp.created_by)
    while imports.run_due("test-worker"):
        pass
    imp.refresh_from_db()
    assert imp.status == ContactImport.Status.DONE
    return imp


def cells(data: bytes, kind="csv"):
    return [row for _n, row in imports.read_rows(data, kind)]


def test_encodings_utf8_with_and_without_bom_latin1_and_emoji():
    text = "nome;telefone\nJoão 😀;11 98888-7777\n"
    assert cells(text.encode())[1] == ["João 😀", "11 98888-7777"]
    assert cells(b"\xef\xbb\xbf" + text.encode())[0] == ["nome", "telefone"]
    latin = "nome,telefone\nConceição,11988887777\n".encode("latin-1")
    assert cells(latin)[1] == ["Conceição", "11988887777"]


def test_invalid_bytes_in_a_utf8_file_are_reported_on_their_row_only(org):
    data = "telefone;nome\n11988887777;José\n".encode() + b"11977776666;Jo\xff\xfeo\n"
    imp = upload(org, data, columns={0: "phone", 1: "name"})
    [good, bad] = [p.row for p in imports.preview(imp)]
    assert (good.name, good.problem) == ("José", "")
    assert (bad.number, bad.problem) == (3, imports.BAD_ENCODING)


def test_xlsx_rows_are_read_with_numbers_as_digits_and_dates(org):
    book = Workbook()
    sheet = book.active
    sheet.append(["Telefone", "Nome", "Consentimento"])
    sheet.append([5511988887777, "Ana", "Sim"])
    out = io.BytesIO()
    book.save(out)
    imp = upload(org, out.getvalue(), name="lista.xlsx", columns=None)
    assert imp.kind == "xlsx" and imp.headers == ["Telefone", "Nome", "Consentimento"]
    assert imp.mapping == {"custom": {}, "phone": 0, "name": 1, "consent": 2}  # guessed
    run(imp)
    contact = Contact.objects.get(organization=org.org, phone="5511988887777")
    assert contact.name == "Ana" and contact.marketing_consent


def test_mapping_needs_a_phone_and_one_column_per_field(org):
    imp = upload(org, HEADER, columns=None)
    with pytest.raises(imports.Refused):
        imports.set_mapping(imp, {1: "name"}, acting_member=org.owner)
    with pytest.raises(imports.Refused):
        imports.set_mapping(imp, {0: "phone", 1: "phone"}, acting_member=org.owner)
    imports.set_mapping(imp, {0: "phone", 3: "custom", 9: "name"}, acting_member=org.owner)
    assert imp.mapping == {"phone": 0, "custom": {"cidade": 3}}


def test_an_agent_cannot_import(org):
    agent = Member(organization=org.org, role=Member.Role.AGENT)
    with pytest.raises(imports.Forbidden):
        imports.upload(org.org, file_name="a.csv", data=HEADER.encode(), acting_member=agent)


def test_the_dry_run_shows_each_rows_problem_and_writes_nothing(org):
    imp = upload(
        org,
        HEADER + "11 98888-7777;Ana;;;sim;\n"
        "123;Bia;;;sim;\n"
        "+55 11 8888-7777;Ana de novo;;;sim;\n"
        "11 97777-6666;Caio;;;talvez;\n"
        "11 96666-5555;Duda;;;sim;ontem\n"
        ";Eva;;;;\n",
    )
    rows = imports.preview(imp)
    assert [(p.row.number, p.row.problem, p.refused) for p in rows] == [
        (2, "", False),
        (3, imports.BAD_PHONE, True),
        (4, imports.DUPLICATE, False),  # the same person without the ninth digit
        (5, imports.BAD_CONSENT, True),
        (6, imports.BAD_DATE, True),
        (7, imports.NO_PHONE, True),
    ]
    assert rows[0].row.phone == "5511988887777"
    assert not Contact.objects.filter(organization=org.org, name="Ana").exists()


def test_import_merges_duplicates_with_known_contacts_by_either_brazilian_form(org):
    # Known by the old eight-digit form (a WhatsApp id from before the ninth digit).
    known, _ = contacts.find_or_create_contact(org.org, phone="551188887777", name="")
    imp = run(
        upload(
            org,
            HEADER + "11 98888-7777;Ana;vip, Loja;São Paulo;sim;2026-01-02\n"
            "+55 (11) 8888-7777;Ana Souza;;Campinas;;\n"
            "11 97777-6666;Bia;VIP;;não;\n"
            "123;Caio;;;;\n",
        )
    )
    assert (imp.created_count, imp.updated_count, imp.merged_count) == (1, 1, 1)
    assert (imp.refused_count, imp.consent_count, imp.rows_done) == (1, 2, 4)
    people = Contact.objects.filter(organization=org.org)
    assert people.count() == 2
    known.refresh_from_db()
    assert known.name == "Ana"
    assert known.custom_fields == {"cidade": "Campinas"}  # the later row of the person wins
    assert sorted(known.tags.values_list("name", flat=True)) == ["Loja", "vip"]
    assert known.marketing_consent
    record = Consent.objects.get(contact=known)
    assert record.channel == "import" and record.evidence == "lista.csv, row 2: sim"
    assert record.recorded_at.date().isoformat() == "2026-01-02"
    assert record.recorded_by == org.owner
    bia = people.get(phone="5511977776666")
    assert not bia.marketing_consent and bia.tags.get().name == "vip"  # one tag, any case
    assert ContactIdentity.objects.filter(contact=bia).count() == 2  # both forms
    report = imports.error_report(imp)
    assert "5,invalid phone number,123,Caio" in report.replace("\r", "")


def test_the_same_file_imported_again_changes_nothing(org):
    text = HEADER + "11 98888-7777;Ana;vip;Recife;sim;\n11 97777-6666;Bia;;;não;\n"
    run(upload(org, text))
    before = (
        Contact.objects.count(),
        Consent.objects.count(),
        ContactIdentity.objects.count(),
        Contact.tags.through.objects.count(),
    )
    again = run(upload(org, text, name="lista (1).csv"))
    after = (
        Contact.objects.count(),
        Consent.objects.count(),
        ContactIdentity.objects.count(),
        Contact.tags.through.objects.count(),
    )
    assert after == before
    assert (again.created_count, again.consent_count) == (0, 0)


def test_record_consent_with_a_key_records_it_once(org):
    contact = org.conversation().contact
    first = consent.record_consent(contact, granted=True, channel="import", key="k1")
    second = consent.record_consent(contact, granted=False, channel="import", key="k1")
    assert first.pk == second.pk and Consent.objects.count() == 1
    contact.refresh_from_db()
    assert contact.marketing_consent


class Killed(BaseException):
    """A worker killed mid-batch: nothing of the batch's transaction survives."""


def test_an_import_interrupted_mid_batch_resumes_without_duplicates(org, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 2)
    rows = "".join(f"11 9{8000_0000 + i:08d};P{i};t;;sim;\n" for i in range(7))
    imp = upload(org, HEADER + rows)
    imports.start(imp, acting_member=org.owner)
    real = consent.record_consents
    calls = []

    def dies_on_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(consent, "record_consents", dies_on_the_second_batch)
    with pytest.raises(Killed):
        imports.run_due("worker-1")
    imp.refresh_from_db()
    assert imp.status == "running" and imp.rows_done == 2
    assert Contact.objects.filter(organization=org.org).count() == 2  # the batch rolled back
    imports._open.clear()  # the process died with its open file
    ContactImport.objects.filter(pk=imp.pk).update(claimed_until=None)  # its lease ran out
    while imports.run_due("worker-2"):
        pass
    imp.refresh_from_db()
    assert (imp.status, imp.rows_done, imp.created_count, imp.consent_count) == ("done", 7, 7, 7)
    assert Contact.objects.filter(organization=org.org).count() == 7
    assert Consent.objects.filter(organization=org.org).count() == 7


def test_a_live_claim_is_not_taken_by_another_worker(org):
    imp = upload(org, HEADER + "11 98888-7777;Ana;;;;\n")
    imports.start(imp, acting_member=org.owner)
    assert imports.claim("worker-1").pk == imp.pk
    assert imports.claim("worker-2") is None


def test_the_worker_runs_queued_imports(transactional_db, org):
    imp = upload(org, HEADER + "11 98888-7777;Ana;;;sim;\n")
    imports.start(imp, acting_member=org.owner)
    worker = Worker()
    while worker.run_once():
        pass
    imp.refresh_from_db()
    assert imp.status == "done" and imp.percent == 100


def test_api_uploads_maps_starts_and_reports(org):
    client = Client(headers={"Authorization": f"Bearer {org.api_token()}"})
    data = (HEADER + "11 98888-7777;Ana;;;sim;\n123;Bia;;;;\n").encode()
    answer = client.post(
        "/api/contact-imports",
        {
            "file": SimpleUploadedFile("lista.csv", data),
            "mapping": json.dumps({"0": "phone", "1": "name", "4": "consent"}),
        },
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["status"] == "queued" and body["rows_total"] == 2
    while imports.run_due("api-worker"):
        pass
    done = client.get(f"/api/contact-imports/{body['id']}").json()
    assert (done["percent"], done["created"], done["refused"], done["consents"]) == (100, 1, 1, 1)
    too_big = client.post(
        "/api/contact-imports",
        {"file": SimpleUploadedFile("a.csv", b"x" * (imports.MAX_BYTES + 1))},
    )
    assert too_big.status_code == 422
    bad = client.post(
        "/api/contact-imports",
        {"file": SimpleUploadedFile("b.csv", data), "mapping": '{"0": "nothing"}'},
    )
    assert bad.status_code == 422


def named(imp) -> set[int]:
    return set(ImportedContact.objects.filter(contact_import=imp).values_list("contact", flat=True))


def test_an_import_names_the_contacts_its_rows_created_updated_and_merged_into(org):
    known, _ = contacts.find_or_create_contact(org.org, phone="551188887777", name="")
    bystander, _ = contacts.find_or_create_contact(org.org, phone="5511933332222", name="Zé")
    # Two contacts of one person (stored before identities): the import merges them.
    twice = [
        Contact.objects.create(organization=org.org, phone=phone)
        for phone in ("5511966661111", "551166661111")
    ]
    imp = run(
        upload(
            org,
            HEADER + "11 98888-7777;Ana;;;;\n"
            "+55 (11) 8888-7777;Ana Souza;;;;\n"  # the same person: merged into Ana's row
            "11 97777-6666;Bia;;;;\n"
            "11 96666-1111;Caio;;;;\n"
            "123;Duda;;;;\n"  # refused: invalid number
            "11 94444-3333;Eva;;;talvez;\n",  # refused: consent unreadable
        )
    )
    bia = Contact.objects.get(organization=org.org, phone="5511977776666")
    caio = Contact.objects.get(organization=org.org, identities__value="551166661111")
    assert caio.pk == twice[0].pk and not Contact.objects.filter(pk=twice[1].pk).exists()
    assert named(imp) == {known.pk, bia.pk, caio.pk}
    assert bystander.pk not in named(imp)
    assert not Contact.objects.filter(organization=org.org, name="Eva").exists()
    assert set(ImportedContact.objects.values_list("organization", flat=True)) == {org.org.pk}


def test_a_batch_applied_again_and_the_same_file_imported_twice_name_each_contact_once(org):
    text = HEADER + "11 98888-7777;Ana;vip;;sim;\n11 8888-7777;Ana;;;;\n11 97777-6666;Bia;;;;\n"
    first = run(upload(org, text))
    people = named(first)
    assert len(people) == 2
    # As a batch that ran again (its rows already written): every statement skips them.
    ContactImport.objects.filter(pk=first.pk).update(
        status=ContactImport.Status.RUNNING, rows_done=0, claimed_by="again", claimed_until=None
    )
    first.refresh_from_db()
    imports.run(first, "again")
    assert ImportedContact.objects.filter(contact_import=first).count() == 2
    assert Contact.tags.through.objects.count() == 1 and Consent.objects.count() == 1
    second = run(upload(org, text, name="lista (1).csv"))
    assert named(second) == people and named(first) == people
    assert ImportedContact.objects.count() == 4  # two imports, two people each


def test_refused_rows_name_nobody(org):
    imp = run(upload(org, HEADER + "123;Ana;;;;\n;Bia;;;;\n11 98888-7777;Caio;;;sim;ontem\n"))
    assert imp.refused_count == 3
    assert not ImportedContact.objects.filter(contact_import=imp).exists()
