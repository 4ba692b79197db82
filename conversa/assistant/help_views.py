"""The assistant's help on the conversation page (rewrite and translate the draft, summarize,
classify, accept the topic as a tag, rate an output) and Settings → Assistant → Activity, the
AI log for owners, admins and supervisors. Thin: assistant.helpers and assistant.activity
decide; a model that cannot answer is said in words beside what was asked for."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404
from conversa.assistant import activity, helpers, llm, outputs, suggestions
from conversa.assistant.models import AssistantOutput
from conversa.errors import Refused
from conversa.inbox import views as inbox
from conversa.inbox.models import Message
from conversa.web import admin_view, number, operator_view

PAGE_SIZE = 25


def refusal(exc: Refused) -> JsonResponse:
    """A refusal for the composer's script: its words, with its status (a 4xx for what was
    asked, the model's own status when it could not answer)."""
    return JsonResponse({"error": str(exc), "code": exc.code}, status=exc.status)


@operator_view
@require_POST
def assist(request, conversation_id: int, action: str):
    """The composer's helpers, answered as JSON for its script: `rewrite` and `translate` the
    draft (`body`) give the new text; `suggest` a reply from the persona and the knowledge;
    `summarize` writes the summary note."""
    conversation = inbox.load(request, conversation_id)
    post = request.POST
    try:
        if action == "rewrite":
            output = helpers.rewrite(
                conversation,
                text=post.get("body", ""),
                style=post.get("style", ""),
                acting_member=request.member,
            )
        elif action == "translate":
            output = helpers.translate(
                conversation,
                text=post.get("body", ""),
                language=post.get("language", ""),
                acting_member=request.member,
            )
        elif action == "summarize":
            output, _note = helpers.summarize(conversation, acting_member=request.member)
        elif action == "suggest":
            output = suggestions.suggest(conversation, acting_member=request.member)
        else:
            raise Http404("No such helper")
    except Refused as exc:
        return refusal(exc)
    rating = render_to_string("assistant/_ai_rating.html", {"output": output}, request=request)
    return JsonResponse({"text": output.text, "output": output.pk, "rating": rating})


@operator_view
@require_POST
def translate_message(request, conversation_id: int, message_id: int):
    """A customer's message translated, shown under it (htmx) with its rating."""
    conversation = inbox.load(request, conversation_id)
    message = get_for_org_or_404(request.org, Message, pk=message_id, conversation=conversation)
    context = {"message": message}
    try:
        context["output"] = helpers.translate(
            conversation,
            message=message,
            language=request.POST.get("language", ""),
            acting_member=request.member,
        )
    except Refused as exc:
        context["error"] = str(exc)
    return render(request, "assistant/_translation.html", context)


def insight_page(request, conversation, **extra):
    context = inbox.contact_context(request, conversation, **extra)
    if not request.htmx:
        return redirect("conversation", conversation_id=conversation.pk)
    return render(request, "inbox/_contact.html", context)


@operator_view
@require_POST
def classify(request, conversation_id: int):
    """The conversation's sentiment and topic, asked of the model now; the contact panel with
    them (or with what went wrong)."""
    conversation = inbox.load(request, conversation_id)
    error = ""
    try:
        helpers.classify(conversation, acting_member=request.member)
    except Refused as exc:
        error = str(exc)
    return insight_page(request, conversation, insight_error=error)


@operator_view
@require_POST
def accept_topic(request, conversation_id: int):
    """Put the suggested topic on the conversation as a tag (one click)."""
    conversation = inbox.load(request, conversation_id)
    error = ""
    try:
        helpers.accept_topic(conversation, acting_member=request.member)
    except Refused as exc:
        error = str(exc)
    return insight_page(request, conversation, insight_error=error)


@operator_view
@require_POST
def rate(request, output_id: int):
    """Mark an output good or bad (the button pressed again takes the rating back)."""
    output = get_for_org_or_404(request.org, AssistantOutput, pk=output_id)
    error = ""
    try:
        outputs.rate_output(
            output, rating=request.POST.get("rating", ""), acting_member=request.member
        )
    except Refused as exc:
        if exc.status == 403:
            raise
        error = str(exc)
    if not request.htmx:
        if output.conversation_id:
            return redirect("conversation", conversation_id=output.conversation_id)
        return redirect("settings-assistant-activity")
    context = {"output": output, "rating_error": error}
    return render(request, "assistant/_ai_rating.html", context, status=422 if error else 200)


def filters_of(request) -> dict:
    params = request.GET
    return {
        "kind": params.get("kind", "") if params.get("kind") in AssistantOutput.Kind.values else "",
        "outcome": (
            params.get("outcome", "")
            if params.get("outcome") in AssistantOutput.Outcome.values
            else ""
        ),
        "rating": params.get("rating", "") if params.get("rating") in activity.RATINGS else "",
    }


@operator_view
def activity_page(request):
    """Settings → Assistant → Activity: every output with its kind, outcome, who asked, the
    passages it was given and its rating; filters, pages, and accuracy per kind."""
    activity.must_watch(request.member)
    filters = filters_of(request)
    rows = activity.outputs_for(request.org, request.member, **filters)
    page = Paginator(rows, PAGE_SIZE).get_page(number(request.GET.get("page")) or 1)
    kept = urlencode({k: v for k, v in filters.items() if v})
    context = {
        "section": "assistant-activity",
        "page": page,
        "filters": filters,
        "query": kept,
        "kinds": AssistantOutput.Kind.choices,
        "outcomes": AssistantOutput.Outcome.choices,
        "ratings": [
            ("good", _("Good")),
            ("bad", _("Bad")),
            ("none", _("Not rated")),
        ],
        "accuracy": activity.accuracy_by_kind(request.org, request.member),
        "periods": activity.PERIODS,
        "questions": activity.may_read_questions(request.member),
        "simulated": bool((endpoint := llm.endpoint_for(request.org)) and endpoint.simulated),
    }
    return render(request, "assistant/activity.html", context)


@admin_view
@require_POST
def summary_settings(request):
    """Settings → Assistant: summaries at transfer and at resolve, on or off."""
    helpers.update_summary_settings(
        request.org,
        on_transfer=request.POST.get("on_transfer") == "1",
        on_resolve=request.POST.get("on_resolve") == "1",
        acting_member=request.member,
    )
    return redirect(reverse("settings-assistant") + "?saved=1")
