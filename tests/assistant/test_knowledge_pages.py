"""Settings → Assistant knowledge and /api/knowledge, through HTTP: adding, changing, turning
off and deleting sources, trying a question, uploads and their bounds, refusals as form errors
(pages) and as the shared JSON shape (API)."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from conversa.accounts.models import Member
from conversa.assistant import knowledge
from conversa.assistant.models import KnowledgeSource
from tests.assistant.test_knowledge import FAQ, pdf


def test_an_admin_adds_a_faq_and_finds_it_with_the_try_box(org):
    client = org.client(org.member(Member.Role.ADMIN))
    page = client.get("/settings/knowledge/")
    assert page.status_code == 200 and "No knowledge yet" in page.content.decode()
    added = client.post(
        "/settings/knowledge/new", {"kind": "faq", "title": "Perguntas", "body": FAQ}
    )
    source = KnowledgeSource.objects.get(organization=org.org)
    assert added.status_code == 302 and added["Location"] == f"/settings/knowledge/{source.pk}"
    edit = client.get(added["Location"]).content.decode()
    assert "5 passages" in edit and "Aceitamos Pix" in edit
    listing = client.get("/settings/knowledge/").content.decode()
    assert "Perguntas" in listing and "5 passages" in listing
    tried = client.post(
        "/settings/knowledge/try", {"question": "aceitam pix?"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Quais formas de pagamento vocês aceitam?" in tried and "score 1.00" in tried
    nothing = client.post(
        "/settings/knowledge/try", {"question": "previsão do tempo"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "No passage answers this question" in nothing
    whole = client.post("/settings/knowledge/try", {"question": "aceitam pix?"})
    assert whole.status_code == 200 and "Try a question" in whole.content.decode()
    assert client.post("/settings/knowledge/try", {"question": ""}).status_code == 400
    too_long = client.post("/settings/knowledge/try", {"question": "x" * 1001})
    assert too_long.status_code == 400


def test_bad_input_is_a_form_error_not_a_500(org):
    client = org.client()
    empty = client.post("/settings/knowledge/new", {"kind": "text", "title": "", "body": "x"})
    assert empty.status_code == 422 and 'aria-invalid="true"' in empty.content.decode()
    orphan = client.post(
        "/settings/knowledge/new",
        {"kind": "faq", "title": "F", "body": "P: Sem?\n\nP: Com?\nR: Sim"},
    )
    assert orphan.status_code == 422 and "has no answer" in orphan.content.decode()
    nofile = client.post("/settings/knowledge/new", {"kind": "document", "title": ""})
    assert nofile.status_code == 422 and "Choose a PDF" in nofile.content.decode()
    wrong = client.post(
        "/settings/knowledge/new",
        {"kind": "document", "file": SimpleUploadedFile("a.xlsx", b"PK")},
    )
    assert wrong.status_code == 422 and "Upload a PDF" in wrong.content.decode()
    assert not KnowledgeSource.objects.exists()
    assert client.get("/settings/knowledge/new?kind=nonsense").status_code == 200


def test_an_uploaded_pdf_becomes_a_source_with_its_pages(org):
    client = org.client()
    upload = client.post(
        "/settings/knowledge/new",
        {
            "kind": "document",
            "title": "",
            "file": SimpleUploadedFile("m.pdf", pdf("Garantia total.")),
        },
    )
    source = KnowledgeSource.objects.get(organization=org.org)
    assert upload.status_code == 302
    assert (source.title, source.kind) == ("m.pdf", "document")
    page = client.get(f"/settings/knowledge/{source.pk}").content.decode()
    assert "Garantia total." in page and "m.pdf" in page


def test_editing_turning_off_and_deleting_from_the_pages(org):
    client = org.client()
    source = knowledge.save_source(org.org, acting_member=org.owner, title="T", body="Pix aceito.")
    saved = client.post(
        f"/settings/knowledge/{source.pk}", {"title": "Pagamento", "body": "Aceitamos boleto."}
    )
    assert saved.status_code == 302 and saved["Location"].endswith("?saved=1")
    assert knowledge.retrieve(org.org, "boleto")[0].source_title == "Pagamento"
    bad = client.post(f"/settings/knowledge/{source.pk}", {"title": "Pagamento", "body": ""})
    assert bad.status_code == 422
    client.post(f"/settings/knowledge/{source.pk}/enabled", {"enabled": "0"})
    assert knowledge.retrieve(org.org, "boleto") == []
    assert "Off" in client.get("/settings/knowledge/").content.decode()
    client.post(f"/settings/knowledge/{source.pk}/enabled", {"enabled": "1"})
    assert knowledge.retrieve(org.org, "boleto")
    client.post(f"/settings/knowledge/{source.pk}/delete")
    assert not KnowledgeSource.objects.filter(pk=source.pk).exists()


def test_another_organizations_source_is_a_404(org, other_org):
    theirs = knowledge.save_source(
        other_org.org, acting_member=other_org.owner, title="Deles", body="Segredo."
    )
    client = org.client()
    assert client.get(f"/settings/knowledge/{theirs.pk}").status_code == 404
    assert client.post(f"/settings/knowledge/{theirs.pk}/delete").status_code == 404
    token = org.api_token()
    response = org_api(org, "get", f"/api/knowledge/sources/{theirs.pk}", token=token)
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert KnowledgeSource.objects.filter(pk=theirs.pk).exists()


def org_api(org, method: str, path: str, body=None, *, token: str):
    client = org.client()
    client.logout()
    return getattr(client, method)(
        path,
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_the_api_adds_changes_searches_and_deletes(org):
    token = org.api_token()
    created = org_api(
        org,
        "post",
        "/api/knowledge/sources",
        {"title": "FAQ", "kind": "faq", "body": FAQ},
        token=token,
    )
    assert created.status_code == 201, created.content
    source = created.json()
    assert source["passage_count"] == 5 and len(source["passages"]) == 5
    found = org_api(org, "post", "/api/knowledge/search", {"question": "aceitam pix"}, token=token)
    body = found.json()
    assert body["threshold"] == knowledge.THRESHOLD
    assert body["passages"][0]["heading"] == "Quais formas de pagamento vocês aceitam?"
    assert body["passages"][0]["source_title"] == "FAQ"
    changed = org_api(
        org,
        "patch",
        f"/api/knowledge/sources/{source['id']}",
        {"enabled": False, "title": "Dúvidas"},
        token=token,
    )
    assert changed.json()["enabled"] is False and changed.json()["title"] == "Dúvidas"
    after = org_api(org, "post", "/api/knowledge/search", {"question": "aceitam pix"}, token=token)
    assert after.json()["passages"] == []
    listed = org_api(org, "get", "/api/knowledge/sources", token=token).json()
    assert [(s["title"], s["passage_count"]) for s in listed] == [("Dúvidas", 5)]
    gone = org_api(org, "delete", f"/api/knowledge/sources/{source['id']}", token=token)
    assert gone.status_code == 204 and not KnowledgeSource.objects.exists()


def test_the_api_refuses_bad_input_in_the_shared_shape(org):
    token = org.api_token()
    cases = [
        ("/api/knowledge/sources", {"title": "", "body": "x"}),
        ("/api/knowledge/sources", {"title": "T", "kind": "document", "body": "x"}),
        ("/api/knowledge/sources", {"title": "T", "kind": "faq", "body": "Sem resposta?"}),
        ("/api/knowledge/sources", {"title": "T", "body": "x", "extra": 1}),
        ("/api/knowledge/search", {"question": ""}),
        ("/api/knowledge/search", {"question": "pix", "limit": 21}),
        ("/api/knowledge/search", {"question": "x" * 1001}),
    ]
    for path, payload in cases:
        response = org_api(org, "post", path, payload, token=token)
        assert response.status_code == 422, (payload, response.content)
        assert response.json()["error"] == "invalid" and response.json()["errors"]
    missing = org_api(org, "get", "/api/knowledge/sources/999999999", token=token)
    assert missing.status_code == 404
    huge = org_api(org, "get", f"/api/knowledge/sources/{2**64}", token=token)
    assert huge.status_code == 422


def test_the_api_takes_documents_as_multipart_and_only_from_admins(org):
    admin_token = org.api_token()
    client = org.client()
    client.logout()
    headers = {"Authorization": f"Bearer {admin_token}"}
    made = client.post(
        "/api/knowledge/documents",
        {"title": "Manual", "file": SimpleUploadedFile("m.pdf", pdf("Garantia de um ano."))},
        headers=headers,
    )
    assert made.status_code == 201, made.content
    assert made.json()["passages"][0]["text"] == "Garantia de um ano."
    bad = client.post(
        "/api/knowledge/documents",
        {"file": SimpleUploadedFile("m.pdf", b"%PDF-1.4 broken")},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "file"]
    agent_token = org.api_token(org.member(Member.Role.SUPERVISOR))
    refused = client.post(
        "/api/knowledge/documents",
        {"file": SimpleUploadedFile("a.txt", b"Oi")},
        headers={"Authorization": f"Bearer {agent_token}"},
    )
    assert refused.status_code == 403
    assert KnowledgeSource.objects.count() == 1
