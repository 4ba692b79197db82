"""Settings → Automatic replies (when the assistant answers customers on its own, per number or
team; owners and admins), and the banner on a conversation saying whether it answers there,
with a person's "Stop" and "Turn back on" (assistant.autoreply decides)."""

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from conversa.assistant import auto_reply_rules, autoreply
from conversa.assistant.models import (
    MAX_AUTO_REPLY_WAIT_SECONDS,
    AssistantOutput,
    AssistantSession,
    AutoReply,
    Persona,
)
from conversa.engine.policy_views import own
from conversa.errors import Refused
from conversa.inbox.access import conversation_for
from conversa.inbox.models import Conversation, Queue
from conversa.numbers.models import Number
from conversa.web import admin_view, operator_view


class AutoReplyForm(forms.Form):
    # "n:<id>" for a number, "q:<id>" for a team.
    target = forms.ChoiceField(label=_("Where"))
    persona = forms.ChoiceField(label=_("Answers as"))
    when = forms.ChoiceField(label=_("When"), choices=AutoReply.When.choices)
    wait_seconds = forms.IntegerField(
        label=_("Wait for more messages (seconds)"),
        min_value=0,
        max_value=MAX_AUTO_REPLY_WAIT_SECONDS,
        initial=8,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=_(
            "Customers often send several short messages in a row: the assistant waits this "
            "long after the last one and answers them together."
        ),
    )
    handoff_when_unhappy = forms.BooleanField(
        label=_("Hand an unhappy customer to a person"),
        required=False,
        initial=True,
        help_text=_("Before each answer the assistant reads the customer's mood."),
    )
    enabled = forms.BooleanField(label=_("On"), required=False, initial=True)

    def __init__(self, org, *args, **kwargs):
        super().__init__(*args, **kwargs)
        numbers = Number.objects.for_org(org).order_by("name")
        queues = Queue.objects.for_org(org).order_by("name")
        self.fields["target"].choices = [
            (_("Numbers"), [(f"n:{n.pk}", n.name) for n in numbers]),
            (_("Teams"), [(f"q:{q.pk}", q.name) for q in queues]),
        ]
        self.fields["persona"].choices = [
            (str(p.pk), p.name) for p in Persona.objects.for_org(org).order_by("name")
        ]
        self.org = org

    def rule(self) -> dict:
        kind, pk = self.cleaned_data["target"].split(":")
        model = Number if kind == "n" else Queue
        found = model.objects.for_org(self.org).get(pk=int(pk))
        return {
            "number": found if kind == "n" else None,
            "queue": found if kind == "q" else None,
            "persona": Persona.objects.for_org(self.org).get(pk=int(self.cleaned_data["persona"])),
            "when": self.cleaned_data["when"],
            "wait_seconds": self.cleaned_data["wait_seconds"],
            "handoff_when_unhappy": self.cleaned_data["handoff_when_unhappy"],
            "enabled": self.cleaned_data["enabled"],
        }


@admin_view
def auto_replies(request):
    """The organization's rules, and a form that sets one (a number's or team's rule is
    replaced when it has one)."""
    org = request.org
    form = AutoReplyForm(org, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            auto_reply_rules.save_auto_reply(org, acting_member=request.member, **form.rule())
        except Refused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            return redirect(f"{request.path}?saved=1")
    rules = (
        AutoReply.objects.for_org(org)
        .select_related("number", "queue", "persona")
        .order_by("number__name", "queue__name")
    )
    context = {
        "section": "auto-replies",
        "form": form,
        "rules": rules,
        "has_personas": bool(form.fields["persona"].choices),
        "saved": request.GET.get("saved"),
    }
    return render(
        request, "assistant/auto_replies.html", context, status=422 if form.errors else 200
    )


@admin_view
@require_POST
def delete_auto_reply(request, rule_id: int):
    rule = own(request, AutoReply, rule_id)
    auto_reply_rules.delete_auto_reply(rule, acting_member=request.member)
    return redirect("settings-auto-replies")


def banner(request, conversation: Conversation, refused: Refused | None = None):
    session = AssistantSession.objects.filter(conversation=conversation).first()
    # Its latest answer or handover, with the passages it was given: what agents check.
    latest = (
        AssistantOutput.objects.filter(conversation=conversation, kind=AssistantOutput.Kind.REPLY)
        .order_by("-pk")
        .first()
        if session
        else None
    )
    context = {
        "conversation": conversation,
        "session": session,
        "latest": latest,
        "available": conversation.pk in autoreply.rules_for([conversation]),
        "error": str(refused) if refused else "",
    }
    status = refused.status if refused else 200
    return render(request, "assistant/_banner.html", context, status=status)


@operator_view
def assistant_banner(request, conversation_id: int):
    """Whether the assistant answers in this conversation, and why it stopped if it did."""
    return banner(request, conversation_for(request.org, request.member, conversation_id))


@operator_view
@require_POST
def assistant_action(request, conversation_id: int, action: str):
    """A person stops the assistant here, or turns it back on."""
    if action not in {"resume", "stop"}:
        raise Http404
    conversation = conversation_for(request.org, request.member, conversation_id)
    try:
        if action == "resume":
            autoreply.resume(conversation, acting_member=request.member)
        else:
            autoreply.stop_here(conversation, acting_member=request.member)
    except Refused as exc:
        if not request.htmx:
            raise
        return banner(request, conversation, exc)
    if not request.htmx:
        return redirect("conversation", conversation_id=conversation.pk)
    return banner(request, conversation)
