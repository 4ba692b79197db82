"""Settings → Assistant personas: the organization's personas (make, change, turn on and off,
delete) and, on each persona's page, the test chat: a question answered as the persona would,
streamed as the model writes it, with the passages it used and good/bad buttons. Owners and
admins; the services (assistant.personas, assistant.answers) decide what is accepted."""

import json

from asgiref.sync import sync_to_async
from django import forms
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.assistant import answers, outputs, personas, services
from conversa.assistant.knowledge import MAX_QUESTION
from conversa.assistant.models import (
    MAX_FACTS,
    MAX_GREETING,
    MAX_INSTRUCTIONS,
    MAX_PERSONA_NAME,
    MAX_PHRASE,
    MAX_PHRASES,
    MAX_TURNS,
    AssistantOutput,
    Persona,
)
from conversa.errors import Refused
from conversa.web import admin_view

# The test answers a persona's page shows, newest first.
RECENT_ANSWERS = 5
# What the test chat's script asks for to have the answer streamed (else: the whole page).
STREAM_TYPE = "application/x-ndjson"
PHRASES_MOST = MAX_PHRASES * (MAX_PHRASE + 1)


def lines(value: str) -> list[str]:
    return [line for line in (value or "").splitlines() if line.strip()]


class PersonaForm(forms.Form):
    """The fields of a persona as the page shows them; lists are written one a line."""

    name = forms.CharField(label=_("Name"), max_length=MAX_PERSONA_NAME)
    instructions = forms.CharField(
        label=_("Instructions"),
        required=False,
        max_length=MAX_INSTRUCTIONS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Who it is and how it helps, as you would brief a new colleague."),
    )
    tone = forms.ChoiceField(label=_("Tone"), choices=Persona.Tone.choices)
    language_policy = forms.ChoiceField(
        label=_("It answers in"), choices=Persona.LanguagePolicy.choices
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=Persona.Language.choices,
        help_text=_("The one language, or the one it uses when the customer's is unclear."),
    )
    greeting_morning = forms.CharField(
        label=_("Morning greeting"),
        required=False,
        max_length=MAX_GREETING,
        widget=forms.TextInput(attrs={"placeholder": _("Good morning!")}),
        help_text=_("From 5:00 to 12:00."),
    )
    greeting_afternoon = forms.CharField(
        label=_("Afternoon greeting"),
        required=False,
        max_length=MAX_GREETING,
        widget=forms.TextInput(attrs={"placeholder": _("Good afternoon!")}),
        help_text=_("From 12:00 to 18:00."),
    )
    greeting_evening = forms.CharField(
        label=_("Evening greeting"),
        required=False,
        max_length=MAX_GREETING,
        widget=forms.TextInput(attrs={"placeholder": _("Good evening!")}),
        help_text=_("From 18:00 to 5:00, in the organization's time zone."),
    )
    facts = forms.CharField(
        label=_("Facts about the business"),
        required=False,
        max_length=MAX_FACTS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One a line: address, opening hours, delivery areas. It may say these."),
    )
    forbidden_topics = forms.CharField(
        label=_("Topics it leaves to people"),
        required=False,
        max_length=PHRASES_MOST,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One a line. A question that mentions one is handed to a person, unanswered."),
    )
    handoff_phrases = forms.CharField(
        label=_("Phrases that ask for a person"),
        required=False,
        max_length=PHRASES_MOST,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One a line; found in any case, with or without accents."),
    )
    handoff_when_unknown = forms.BooleanField(
        label=_("Hand off when the knowledge has no answer (else it says it does not know)"),
        required=False,
    )
    max_turns = forms.IntegerField(
        label=_("Hand off after this many answers"),
        required=False,
        min_value=1,
        max_value=MAX_TURNS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=_("In one conversation. Empty: no limit."),
    )

    @classmethod
    def of(cls, persona: Persona | None, data=None) -> "PersonaForm":
        if persona is None:
            initial = {
                "tone": Persona.Tone.FRIENDLY,
                "language_policy": Persona.LanguagePolicy.CUSTOMER,
                "language": Persona.Language.PORTUGUESE,
                "handoff_phrases": "\n".join(personas.default_handoff_phrases()),
                "handoff_when_unknown": True,
            }
        else:
            initial = personas.fields_of(persona)
            initial["forbidden_topics"] = "\n".join(persona.forbidden_topics)
            initial["handoff_phrases"] = "\n".join(persona.handoff_phrases)
        return cls(data, initial=initial)

    def persona_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["forbidden_topics"] = lines(data["forbidden_topics"])
        data["handoff_phrases"] = lines(data["handoff_phrases"])
        return data


@admin_view
def persona_list(request):
    """The organization's personas, by name, with whether each is on."""
    context = {
        "section": "personas",
        "personas": scoped(request.org, Persona).order_by("name", "id"),
    }
    return render(request, "assistant/personas.html", context)


def form_page(request, form, persona=None, *, status=200, **extra):
    context = {"section": "personas", "form": form, "persona": persona, **extra}
    if persona is not None:
        context |= {
            "recent": recent_answers(persona),
            "simulated": services.model_view(request.org).simulated,
            "max_question": MAX_QUESTION,
            "saved": request.GET.get("saved") == "1" and not form.errors,
        }
    return render(request, "assistant/persona.html", context, status=status)


def saved_or_errors(request, form, persona=None):
    """The persona saved (None) or the form with its errors."""
    if not form.is_valid():
        return None
    try:
        return personas.save_persona(
            request.org, acting_member=request.member, persona=persona, **form.persona_fields()
        )
    except Refused as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        return None


@admin_view
def new_persona(request):
    """Make a persona (off until turned on); its page follows, with the test chat."""
    form = PersonaForm.of(None, request.POST or None)
    if request.method == "POST" and (persona := saved_or_errors(request, form)):
        return redirect("settings-persona", persona_id=persona.pk)
    return form_page(request, form, status=422 if form.errors else 200)


@admin_view
def persona_page(request, persona_id: int):
    """A persona's fields to change, and its test chat."""
    persona = get_for_org_or_404(request.org, Persona, pk=persona_id)
    form = PersonaForm.of(persona, request.POST or None)
    if request.method == "POST" and saved_or_errors(request, form, persona):
        return redirect(f"{request.path}?saved=1")
    return form_page(request, form, persona, status=422 if form.errors else 200)


@admin_view
@require_POST
def set_active(request, persona_id: int):
    persona = get_for_org_or_404(request.org, Persona, pk=persona_id)
    personas.set_active(persona, request.POST.get("active") == "1", acting_member=request.member)
    if request.POST.get("next") == "persona":
        return redirect("settings-persona", persona_id=persona.pk)
    return redirect("settings-personas")


def persona_url(persona: Persona) -> str:
    return reverse("settings-persona", args=[persona.pk])


@admin_view
@require_POST
def delete_persona(request, persona_id: int):
    persona = get_for_org_or_404(request.org, Persona, pk=persona_id)
    personas.delete_persona(persona, acting_member=request.member)
    return redirect("settings-personas")


def recent_answers(persona: Persona):
    return (
        scoped(persona.organization, AssistantOutput)
        .filter(persona=persona, kind=AssistantOutput.Kind.TEST_CHAT)
        .select_related("rated_by")
        .order_by("-created_at", "-id")[:RECENT_ANSWERS]
    )


def question_error(question: str) -> str:
    if not question:
        return gettext("Write a question a customer might ask.")
    if len(question) > MAX_QUESTION:
        return gettext("A question has at most %(n)s characters.") % {"n": MAX_QUESTION}
    return ""


@admin_view
@require_POST
def test_chat(request, persona_id: int):
    """Answer a question as the persona would, kept as a TEST_CHAT output. To the page's
    script (Accept: application/x-ndjson): the answer streamed, a JSON line a piece
    ({"piece"}), then {"done", "html"} (the answer with its passages and buttons, rendered);
    without the script, the page again with the answer on top."""
    persona = get_for_org_or_404(request.org, Persona, pk=persona_id)
    question = request.POST.get("question", "").strip()
    streamed = STREAM_TYPE in request.headers.get("Accept", "")
    if error := question_error(question):
        if streamed:
            return JsonResponse({"error": error}, status=400)
        form = PersonaForm.of(persona)
        return form_page(request, form, persona, status=400, chat_error=error, question=question)
    turns = [answers.Turn(answers.CUSTOMER, question)]
    if not streamed:
        answers.answer(
            persona, turns, kind=AssistantOutput.Kind.TEST_CHAT, acting_member=request.member
        )
        return redirect(f"{persona_url(persona)}#test-chat")
    answering = answers.Answering(
        persona, turns, kind=AssistantOutput.Kind.TEST_CHAT, acting_member=request.member
    )
    response = StreamingHttpResponse(
        stream_lines(answering, request), content_type=f"{STREAM_TYPE}; charset=utf-8"
    )
    # Proxies (nginx) hold a response back to buffer it: the answer should show as written.
    response["X-Accel-Buffering"] = "no"
    response["Cache-Control"] = "no-store"
    return response


async def stream_lines(answering: answers.Answering, request):
    """The answer's pieces as JSON lines, then its rendered footer. Asynchronous, so that the
    ASGI server sends each piece as it comes (Django buffers a synchronous iterator whole);
    the model is read in Django's one thread for synchronous work, like the view."""
    pieces = iter(answering)
    following = sync_to_async(next, thread_sensitive=True)
    while (piece := await following(pieces, None)) is not None:
        yield json.dumps({"piece": piece}) + "\n"
    html = await sync_to_async(render_to_string, thread_sensitive=True)(
        "assistant/_test_answer.html", {"output": answering.output}, request=request
    )
    yield json.dumps({"done": True, "html": html}) + "\n"


@admin_view
@require_POST
def rate_answer(request, output_id: int):
    """Mark a test answer good or bad (again: the latest counts)."""
    output = get_for_org_or_404(
        request.org, AssistantOutput, pk=output_id, kind=AssistantOutput.Kind.TEST_CHAT
    )
    outputs.rate_output(output, rating=request.POST.get("rating", ""), acting_member=request.member)
    if request.htmx:
        return render(request, "assistant/_rating.html", {"output": output})
    if output.persona_id:
        return redirect(f"{persona_url(output.persona)}#test-chat")
    return HttpResponse(status=204)
