"""The assistant's knowledge: sources split into passages, and the passages retrieved for a
question on both databases (a small pt-BR and English knowledge base, questions whose best
passage is known), within the organization, above the relevance threshold or not at all."""

import pytest
from django.db import connection

from conversa.accounts.models import Member, OperationalEvent
from conversa.assistant import knowledge
from conversa.assistant.models import KnowledgePassage, KnowledgeSource
from conversa.errors import Forbidden, Refused

FAQ = """P: Qual o horário de atendimento?
R: Atendemos de segunda a sexta, das 9h às 18h, e aos sábados das 9h às 13h.

P: Vocês entregam em todo o Brasil?
R: Sim. Entregamos nas capitais em até 5 dias úteis e no interior em até 10 dias úteis.

P: Como faço para trocar um produto?
R: A troca pode ser pedida em até 30 dias depois do recebimento, com a nota fiscal.

P: Quais formas de pagamento vocês aceitam?
R: Aceitamos Pix, boleto e cartão de crédito em até 12 vezes sem juros.

P: Vocês abrem aos domingos e feriados?
R: Não. Aos domingos e feriados a loja fica fechada.
"""

GUIDE = """# Returns policy

You can return any item within 30 days of delivery for a full refund. The refund goes back
to the card you paid with.

# Shipping

We ship worldwide with tracked delivery; shipping costs are shown at checkout.
"""


@pytest.fixture
def base(org):
    faq = knowledge.save_source(
        org.org, acting_member=org.owner, title="Perguntas frequentes", kind="faq", body=FAQ
    )
    guide = knowledge.save_source(
        org.org, acting_member=org.owner, title="Customer guide", kind="text", body=GUIDE
    )
    return faq, guide


def best(org, question: str) -> str:
    hits = knowledge.retrieve(org.org, question)
    return hits[0].heading if hits else ""


@pytest.mark.parametrize(
    ("question", "heading"),
    [
        ("Qual é o horario de atendimento?", "Qual o horário de atendimento?"),
        ("vcs aceitam PIX ou cartao?", "Quais formas de pagamento vocês aceitam?"),
        ("Posso trocar o produto que comprei?", "Como faço para trocar um produto?"),
        ("Entregam no interior?", "Vocês entregam em todo o Brasil?"),
        ("A loja abre no domingo?", "Vocês abrem aos domingos e feriados?"),
        ("How do I get a refund?", "Returns policy"),
        ("Do you ship worldwide?", "Shipping"),
    ],
)
def test_each_question_finds_its_passage_first(org, base, question, heading):
    assert best(org, question) == heading


@pytest.mark.parametrize(
    "question",
    ["Quem ganhou a copa do mundo de 1970?", "Oi, tudo bem?", "What is the meaning of life?", ""],
)
def test_a_question_the_knowledge_does_not_answer_finds_nothing(org, base, question):
    assert knowledge.retrieve(org.org, question) == []


def test_accents_and_capitals_do_not_matter(org):
    knowledge.save_source(
        org.org,
        acting_member=org.owner,
        title="Avisos",
        body="Não fazemos orçamento por telefone.\n\nA garantia é de um ano.",
    )
    for question in ["orçamento por TELEFONE", "orcamento por telefone", "ORÇAMENTO"]:
        hits = knowledge.retrieve(org.org, question)
        assert hits and hits[0].text.startswith("Não fazemos orçamento"), question


def test_another_organizations_passages_are_never_returned(org, other_org, base):
    knowledge.save_source(
        other_org.org,
        acting_member=other_org.owner,
        title="Deles",
        kind="faq",
        body="Qual o horário de atendimento?\nFuncionamos 24 horas, todos os dias.",
    )
    mine = knowledge.retrieve(org.org, "horário de atendimento", limit=20)
    theirs = knowledge.retrieve(other_org.org, "horário de atendimento", limit=20)
    assert {h.source_title for h in mine} == {"Perguntas frequentes"}
    assert [h.text for h in theirs] == ["Funcionamos 24 horas, todos os dias."]


def test_a_disabled_source_is_not_retrieved_until_enabled_again(org, base):
    faq, _guide = base
    knowledge.set_enabled(faq, False, acting_member=org.owner)
    assert knowledge.retrieve(org.org, "horário de atendimento") == []
    knowledge.set_enabled(faq, True, acting_member=org.owner)
    assert best(org, "horário de atendimento") == "Qual o horário de atendimento?"


def test_changing_and_deleting_a_source_changes_what_is_found(org, base):
    faq, guide = base
    knowledge.save_source(
        org.org, acting_member=org.owner, source=guide, title="Guide", body="# Gifts\n\nWe wrap."
    )
    assert knowledge.retrieve(org.org, "refund") == []
    assert best(org, "gift wrapping") == "Gifts"
    knowledge.delete_source(faq, acting_member=org.owner)
    assert knowledge.retrieve(org.org, "horário de atendimento") == []
    assert not KnowledgePassage.objects.filter(source_id=faq.pk).exists()
    verbs = list(
        OperationalEvent.objects.filter(organization=org.org, object_type="knowledgesource")
        .order_by("pk")
        .values_list("verb", flat=True)
    )
    assert verbs == [
        "knowledge.created",
        "knowledge.created",
        "knowledge.changed",
        "knowledge.deleted",
    ]


def test_scores_are_ordered_bounded_and_limited(org, base):
    hits = knowledge.retrieve(org.org, "horário de atendimento aos sábados e domingos", limit=3)
    assert len(hits) <= 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(knowledge.THRESHOLD <= h.score <= 1 for h in hits)
    citation = hits[0].citation()
    assert set(citation) == {
        "passage_id",
        "source_id",
        "source_title",
        "heading",
        "text",
        "score",
    }
    assert len(knowledge.retrieve(org.org, "a " * 5000 + "entrega", limit=10_000)) <= 20


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_misspelt_word_still_counts_on_postgresql(org, base):
    misspelt = knowledge.retrieve(org.org, "horaro de atendimento")
    unrelated = knowledge.retrieve(org.org, "cachorro de atendimento")
    assert misspelt[0].passage_id == unrelated[0].passage_id
    assert misspelt[0].heading == "Qual o horário de atendimento?"
    assert misspelt[0].score > unrelated[0].score


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_the_sqlite_index_stays_in_step_with_the_passages(org, base):
    faq, guide = base
    knowledge.save_source(org.org, acting_member=org.owner, source=faq, title="FAQ", body=FAQ)
    KnowledgePassage.objects.filter(source=guide).update(folded="something else")
    KnowledgePassage.objects.filter(source=guide).delete()
    KnowledgeSource.objects.filter(pk=faq.pk).delete()
    with connection.cursor() as cursor:
        # FTS5 raises "database disk image is malformed" when the index and the table differ.
        cursor.execute(
            "INSERT INTO assistant_knowledgepassage_fts(assistant_knowledgepassage_fts, rank) "
            "VALUES ('integrity-check', 1)"
        )
        cursor.execute("SELECT count(*) FROM assistant_knowledgepassage_fts")
        assert cursor.fetchone()[0] == 0


# Splitting ---------------------------------------------------------------------------------


def test_markdown_is_split_by_headings_then_paragraphs_never_mid_word():
    long = " ".join(f"palavra{i}." for i in range(400))
    pieces = knowledge.split_text(
        f"Intro.\n\n# Um\n\nPrimeiro.\nainda.\n\nSegundo.\n\n## Dois\n\n{long}"
    )
    assert pieces[0] == knowledge.Piece("", "Intro.")
    assert pieces[1] == knowledge.Piece("Um", "Primeiro. ainda.\n\nSegundo.")
    rest = pieces[2:]
    assert len(rest) > 1 and {p.heading for p in rest} == {"Dois"}
    assert all(len(p.text) <= knowledge.MAX_PASSAGE for p in rest)
    assert " ".join(p.text for p in rest) == long
    assert all(p.text.endswith(".") for p in rest)


def test_faqs_are_a_passage_each_with_or_without_markers():
    plain = "Do you ship abroad?\nNo, only within Brazil.\n\nRefunds?\nWithin 7 days.\nBy Pix."
    assert knowledge.split_faq(plain) == [
        knowledge.Piece("Do you ship abroad?", "No, only within Brazil."),
        knowledge.Piece("Refunds?", "Within 7 days. By Pix."),
    ]
    assert len(knowledge.split_faq(FAQ)) == 5
    with pytest.raises(Refused, match="has no answer"):
        knowledge.split_faq("P: Sem resposta?\n\nP: Outra?\nR: Sim.")


def test_bad_sources_are_refused_naming_the_field(org):
    def refused(**kwargs):
        with pytest.raises(Refused) as caught:
            knowledge.save_source(org.org, acting_member=org.owner, **kwargs)
        return caught.value.field

    assert refused(title="", body="x") == "title"
    assert refused(title="x" * 201, body="x") == "title"
    assert refused(title="T", body="  \n ") == "body"
    assert refused(title="T", body="x" * (knowledge.MAX_TEXT + 1)) == "body"
    many = "\n\n".join(f"Q{i}?\nA." for i in range(knowledge.MAX_PASSAGES + 1))
    assert refused(title="T", kind="faq", body=many) == "body"
    assert refused(title="T", kind="spreadsheet", body="x") == "kind"
    assert not KnowledgeSource.objects.exists()


def test_only_owners_and_admins_change_knowledge(org):
    for role in (Member.Role.SUPERVISOR, Member.Role.AGENT):
        with pytest.raises(Forbidden):
            knowledge.save_source(org.org, acting_member=org.member(role), title="T", body="x")
    admin = org.member(Member.Role.ADMIN)
    assert knowledge.save_source(org.org, acting_member=admin, title="T", body="x").pk


# Documents ---------------------------------------------------------------------------------


def pdf(*pages: str) -> bytes:
    """A minimal PDF whose pages show `pages` (one line each), in Helvetica."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for text in pages:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        page_id, content_id = len(objects) + 1, len(objects) + 2
        kids.append(f"{page_id} 0 R")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            "/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
            "/Encoding /WinAnsiEncoding >> >> >> >>"
        )
        objects.append((stream, len(stream)))
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        if isinstance(body, tuple):
            data, size = body
            out += f"{number} 0 obj\n<< /Length {size} >>\nstream\n".encode()
            out += data + b"\nendstream\nendobj\n"
        else:
            out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def test_a_pdfs_text_is_read_a_page_a_section(org):
    data = pdf("Garantia de um ano para todos os produtos.", "Assistencia tecnica em Sao Paulo.")
    source = knowledge.add_document(
        org.org, acting_member=org.owner, title="", file_name="manual.pdf", data=data
    )
    assert (source.kind, source.title, source.file_name) == ("document", "manual.pdf", "manual.pdf")
    assert source.file_size == len(data)
    passages = list(source.passages.values_list("heading", "text"))
    assert passages == [
        ("p. 1", "Garantia de um ano para todos os produtos."),
        ("p. 2", "Assistencia tecnica em Sao Paulo."),
    ]
    assert best(org, "assistência técnica") == "p. 2"


def test_text_and_markdown_files_are_read_and_other_files_refused(org):
    source = knowledge.add_document(
        org.org,
        acting_member=org.owner,
        title="Preços",
        file_name="precos.md",
        data="# Preços\n\nO plano básico custa R$ 49.".encode(),
    )
    assert list(source.passages.values_list("heading", flat=True)) == ["Preços"]
    latin = knowledge.add_document(
        org.org,
        acting_member=org.owner,
        title="",
        file_name="a.txt",
        data="Promoção".encode("cp1252"),
    )
    assert latin.body == "Promoção"

    def refused(file_name, data):
        with pytest.raises(Refused) as caught:
            knowledge.add_document(
                org.org, acting_member=org.owner, title="", file_name=file_name, data=data
            )
        assert caught.value.field == "file"
        return str(caught.value)

    assert "PDF, text" in refused("planilha.xlsx", b"PK")
    assert "empty" in refused("vazio.txt", b"")
    assert "at most 5 MB" in refused("grande.txt", b"a" * (knowledge.MAX_FILE + 1))
    assert "not a PDF" in refused("falso.pdf", b"hello")
    assert "cannot be read" in refused("quebrado.pdf", b"%PDF-1.4\nlixo")
    assert "no text" in refused("vazio.pdf", pdf(""))
