"""`/api/knowledge`: the assistant's knowledge (owners and admins). Sources as text, questions
and answers, or an uploaded document (PDF, text, Markdown), each split into passages; and
`POST /api/knowledge/search`, the passages a question finds, best first with their scores (none
when nothing scores above the relevance threshold). Another organization's source is a 404."""

from datetime import datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from ninja import Field, File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import ConfigDict

from conversa import cursors
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.assistant import knowledge
from conversa.assistant.models import KnowledgeSource
from conversa.bounds import Id
from conversa.cursors import Cursor, Limit
from conversa.errors import Refused

router = Router(tags=["assistant knowledge"])


class KnowledgeSourceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=knowledge.TITLE_LENGTH)
    kind: Literal["text", "faq"] = Field(
        "text",
        description="text: Markdown or plain text, split by headings and paragraphs; faq: "
        "blocks of a question line and its answer, separated by empty lines (or 'Q:'/'A:')",
    )
    body: str = Field(min_length=1, max_length=knowledge.MAX_TEXT)
    enabled: bool = True


class KnowledgeSourceChanges(Schema):
    """What to change; a field left out stays. A new `body` is split into passages again."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=knowledge.TITLE_LENGTH)
    body: str | None = Field(None, min_length=1, max_length=knowledge.MAX_TEXT)
    enabled: bool | None = None


class KnowledgePassageOut(Schema):
    id: int
    position: int
    heading: str
    text: str


class KnowledgeSourceOut(Schema):
    id: int
    title: str
    kind: str
    enabled: bool
    file_name: str
    file_size: int | None
    passage_count: int
    created_at: datetime
    updated_at: datetime


class KnowledgeSourceDetail(KnowledgeSourceOut):
    body: str
    passages: list[KnowledgePassageOut]


class KnowledgeSearchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=knowledge.MAX_QUESTION)
    limit: int = Field(5, ge=1, le=knowledge.MAX_HITS)


class KnowledgeHitOut(Schema):
    passage_id: int
    source_id: int
    source_title: str
    heading: str
    text: str
    score: float = Field(description="0 to 1; only passages at or above the threshold")


class KnowledgeSearchOut(Schema):
    threshold: float
    passages: list[KnowledgeHitOut]


def summary(source: KnowledgeSource, count: int | None = None) -> dict:
    return {
        "id": source.pk,
        "title": source.title,
        "kind": source.kind,
        "enabled": source.enabled,
        "file_name": source.file_name,
        "file_size": source.file_size,
        "passage_count": source.passages.count() if count is None else count,
        "created_at": source.created_at,
        "updated_at": source.updated_at,
    }


def detail(source: KnowledgeSource) -> dict:
    passages = list(source.passages.order_by("position"))
    return {
        **summary(source, len(passages)),
        "body": source.body,
        "passages": [
            {"id": p.pk, "position": p.position, "heading": p.heading, "text": p.text}
            for p in passages
        ],
    }


@router.get("/knowledge/sources", response=list[KnowledgeSourceOut])
def list_sources(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The organization's sources by title, with their passage counts, a page at a time."""
    knowledge.must_manage(request.member)
    everything = scoped(request.org, KnowledgeSource)
    sources = cursors.page(
        everything, order=["title"], cursor=cursor, limit=limit, response=response
    )
    counts = knowledge.passage_counts(request.org)
    return [summary(s, counts.get(s.pk, 0)) for s in sources]


@router.post("/knowledge/sources", response={201: KnowledgeSourceDetail})
def create_source(request: HttpRequest, payload: KnowledgeSourceIn):
    """Add text or questions and answers; audited. Refused (422, naming the field) for FAQ
    text with a question and no answer, or text that makes more than 500 passages."""
    source = knowledge.save_source(
        request.org,
        acting_member=request.member,
        kind=payload.kind,
        title=payload.title,
        body=payload.body,
    )
    if not payload.enabled:
        knowledge.set_enabled(source, False, acting_member=request.member)
    return Status(201, detail(source))


@router.post("/knowledge/documents", response={201: KnowledgeSourceDetail})
def upload_document(
    request: HttpRequest,
    file: File[UploadedFile],
    title: Form[str] = "",
):
    """Add a document (multipart: `file`, and `title`, the file's name when empty): a PDF's
    text (page by page; a scanned PDF has none), or a text or Markdown file, at most 5 MB."""
    if len(title) > knowledge.TITLE_LENGTH:
        raise Refused(
            gettext("Give it a title of 1 to %(n)s characters.") % {"n": knowledge.TITLE_LENGTH},
            field="title",
        )
    source = knowledge.add_document(
        request.org,
        acting_member=request.member,
        title=title,
        file_name=file.name or "",
        data=file.read(knowledge.MAX_FILE + 1),
    )
    return Status(201, detail(source))


@router.get("/knowledge/sources/{source_id}", response=KnowledgeSourceDetail)
def get_source(request: HttpRequest, source_id: Id):
    """A source with its text and its passages in order."""
    knowledge.must_manage(request.member)
    return detail(get_for_org_or_404(request.org, KnowledgeSource, pk=source_id))


@router.patch("/knowledge/sources/{source_id}", response=KnowledgeSourceDetail)
def patch_source(request: HttpRequest, source_id: Id, payload: KnowledgeSourceChanges):
    """Change a source's title or text (split again), or turn it on or off; audited."""
    knowledge.must_manage(request.member)
    source = get_for_org_or_404(request.org, KnowledgeSource, pk=source_id)
    if payload.title is not None or payload.body is not None:
        knowledge.save_source(
            request.org,
            acting_member=request.member,
            source=source,
            title=source.title if payload.title is None else payload.title,
            body=source.body if payload.body is None else payload.body,
        )
    if payload.enabled is not None:
        knowledge.set_enabled(source, payload.enabled, acting_member=request.member)
    return detail(source)


@router.delete("/knowledge/sources/{source_id}", response={204: None})
def delete_source(request: HttpRequest, source_id: Id):
    """Delete a source and its passages; audited."""
    source = get_for_org_or_404(request.org, KnowledgeSource, pk=source_id)
    knowledge.delete_source(source, acting_member=request.member)
    return Status(204, None)


@router.post("/knowledge/search", response=KnowledgeSearchOut)
def search(request: HttpRequest, payload: KnowledgeSearchIn):
    """The enabled passages that answer `question` best, best first, each with its score;
    an empty list when none scores at or above `threshold` (the assistant then says it does
    not know)."""
    knowledge.must_manage(request.member)
    hits = knowledge.retrieve(request.org, payload.question, limit=payload.limit)
    return {"threshold": knowledge.THRESHOLD, "passages": [h.citation() for h in hits]}
