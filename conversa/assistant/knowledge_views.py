"""Settings → Assistant knowledge: the sources the assistant answers from (added as text,
questions and answers, or an uploaded document), each with its passages; turning one off,
deleting one; and a box to try a question and see the passages it finds, with their scores.
Owners and admins; the service (assistant.knowledge) decides what is accepted."""

from django.db.models import Count
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.assistant import knowledge
from conversa.assistant.models import KnowledgeSource
from conversa.errors import Refused
from conversa.web import admin_view, declared_length

KINDS = KnowledgeSource.Kind


def list_context(request, **extra) -> dict:
    sources = (
        scoped(request.org, KnowledgeSource)
        .annotate(passage_count=Count("passages"))
        .select_related("updated_by")
        .order_by("title", "id")
    )
    return {
        "section": "knowledge",
        "sources": sources,
        "max_question": knowledge.MAX_QUESTION,
        **extra,
    }


@admin_view
def knowledge_page(request):
    """The organization's sources, with their passage counts, and the try box."""
    return render(request, "assistant/knowledge.html", list_context(request))


@admin_view
@require_POST
def try_question(request):
    """The passages a question finds, best first with their scores; to htmx the results
    alone, else the whole page with them."""
    question = request.POST.get("question", "").strip()
    error, hits = "", []
    if not question:
        error = _("Write a question a customer might ask.")
    elif len(question) > knowledge.MAX_QUESTION:
        error = _("A question has at most %(n)s characters.") % {"n": knowledge.MAX_QUESTION}
    else:
        hits = knowledge.retrieve(request.org, question, limit=5)
    results = {"question": question, "hits": hits, "error": error, "tried": True}
    status = 400 if error else 200
    if request.htmx:
        return render(request, "assistant/_knowledge_hits.html", results, status=status)
    return render(
        request, "assistant/knowledge.html", list_context(request, **results), status=status
    )


def form_context(request, source, kind, draft, errors) -> dict:
    return {
        "section": "knowledge",
        "source": source,
        "kind": kind,
        "kinds": KINDS,
        "draft": draft,
        "errors": errors,
        "passages": source.passages.order_by("position") if source else [],
        "max_text": knowledge.MAX_TEXT,
        "max_mb": knowledge.MAX_FILE // (1024 * 1024),
    }


@admin_view
def new_source(request):
    """Add text, questions and answers (`?kind=faq`) or a document (`?kind=document`)."""
    kind = request.GET.get("kind") or request.POST.get("kind") or KINDS.TEXT
    if kind not in KINDS.values:
        kind = KINDS.TEXT
    draft = {"title": "", "body": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        draft = {"title": request.POST.get("title", ""), "body": request.POST.get("body", "")}
        try:
            if kind == KINDS.DOCUMENT:
                source = upload(request, draft["title"])
            else:
                source = knowledge.save_source(
                    request.org,
                    acting_member=request.member,
                    kind=kind,
                    title=draft["title"],
                    body=draft["body"],
                )
        except Refused as exc:
            errors[exc.field or "form"] = str(exc)
        else:
            return redirect("settings-knowledge-source", source_id=source.pk)
    context = form_context(request, None, kind, draft, errors)
    return render(request, "assistant/knowledge_form.html", context, status=422 if errors else 200)


def upload(request, title: str) -> KnowledgeSource:
    # The declared size first: a body far over the limit is refused before it is read.
    if declared_length(request) > knowledge.MAX_FILE + 65536:
        raise Refused(
            _("A document is at most %(mb)s MB.") % {"mb": knowledge.MAX_FILE // (1024 * 1024)},
            field="file",
        )
    given = request.FILES.get("file")
    if given is None:
        raise Refused(_("Choose a PDF, text or Markdown file."), field="file")
    return knowledge.add_document(
        request.org,
        acting_member=request.member,
        title=title,
        file_name=given.name or "",
        data=given.read(knowledge.MAX_FILE + 1),
    )


@admin_view
def source_page(request, source_id: int):
    """A source: its title and text to change (split again when saved), and its passages."""
    source = get_for_org_or_404(request.org, KnowledgeSource, pk=source_id)
    draft = {"title": source.title, "body": source.body}
    errors: dict[str, str] = {}
    saved = request.GET.get("saved") == "1"
    if request.method == "POST":
        draft = {"title": request.POST.get("title", ""), "body": request.POST.get("body", "")}
        try:
            knowledge.save_source(
                request.org,
                acting_member=request.member,
                source=source,
                title=draft["title"],
                body=draft["body"],
            )
        except Refused as exc:
            errors[exc.field or "form"] = str(exc)
        else:
            return redirect(f"{request.path}?saved=1")
    context = form_context(request, source, source.kind, draft, errors)
    context["saved"] = saved and not errors
    return render(request, "assistant/knowledge_form.html", context, status=422 if errors else 200)


@admin_view
@require_POST
def set_enabled(request, source_id: int):
    source = get_for_org_or_404(request.org, KnowledgeSource, pk=source_id)
    knowledge.set_enabled(source, request.POST.get("enabled") == "1", acting_member=request.member)
    return redirect("settings-knowledge")


@admin_view
@require_POST
def delete_source(request, source_id: int):
    source = get_for_org_or_404(request.org, KnowledgeSource, pk=source_id)
    knowledge.delete_source(source, acting_member=request.member)
    return redirect("settings-knowledge")
