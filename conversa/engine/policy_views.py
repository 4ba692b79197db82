"""The policies' pages: the organization's settings (with the kill switch), a number's
settings, and the banners that say what holds messages (the app-wide kill switch banner, a
conversation's number). Changing anything is for owners and admins; the services decide."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from conversa.accounts import mfa
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.engine import policies
from conversa.engine.policy_forms import NumberSettingsForm, OrganizationForm
from conversa.errors import NotFound, Refused
from conversa.inbox.models import Conversation, Queue
from conversa.numbers.models import Number
from conversa.web import admin_view, operator_view

MAX_ID = 2**63 - 1


def own(request, model, pk: int):
    """The organization's row with this id; 404 for another's, or for an id no row can
    have (the database would overflow on it)."""
    if not 1 <= pk <= MAX_ID:
        raise Http404
    return get_for_org_or_404(request.org, model, pk=pk)


def show_refusal(form, exc: Refused) -> None:
    """A service's refusal beside the field it names (or above the form)."""
    field = {"sending_hours": "sending_mode", "queue_id": "queue"}.get(exc.field, exc.field)
    form.add_error(field if field in form.fields else None, str(exc))


@admin_view
def organization_settings(request):
    """Name, time zone, quiet hours, allowed dayparts, reopen window, default quotas, and
    the kill switch (its own confirmed form, `kill_switch`)."""
    org = request.org
    form = OrganizationForm(request.POST or None, org=org)
    if request.method == "POST" and form.is_valid():
        try:
            policies.update_organization(org, acting_member=request.member, wanted=form.policies())
        except Refused as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{request.path}?saved=1")
    context = {"section": "organization", "form": form, "saved": request.GET.get("saved")}
    return render(
        request, "settings/organization.html", context, status=422 if form.errors else 200
    )


@admin_view
@require_POST
def kill_switch(request):
    """Turn sending off (or on again) for the whole organization, after a confirmation step:
    the first POST shows what it does, the second (`confirmed=yes`) does it."""
    paused = request.POST.get("paused") == "1"
    if request.POST.get("confirmed") != "yes":
        return render(
            request,
            "settings/kill_switch_confirm.html",
            {"section": "organization", "paused": paused},
        )
    # The one place the kill switch is turned from a page: with two-step verification, only
    # after a fresh code (the person is sent to give one, then repeats the confirmation).
    if refusal := mfa.fresh_factor_redirect(request):
        return refusal
    policies.set_sending_paused(request.org, acting_member=request.member, paused=paused)
    return redirect("/settings/organization/?saved=" + ("paused" if paused else "resumed"))


@operator_view
def org_banner(request):
    """The app-wide kill switch banner, redrawn when the organization's numbers change."""
    request.org.refresh_from_db(fields=["sending_paused"])
    return render(request, "settings/_org_banner.html", {"org": request.org})


@admin_view
def number_settings(request, number_id: int):
    """A number's name, quotas, queue and pause."""
    number = own(request, Number, number_id)
    if number.status == Number.Status.REMOVED:
        raise NotFound(gettext("This number was removed."))
    queues = scoped(request.org, Queue).order_by("name")
    form = NumberSettingsForm(request.POST or None, number=number, queues=queues)
    if request.method == "POST" and form.is_valid():
        try:
            policies.update_number(number, acting_member=request.member, wanted=form.policies())
        except Refused as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{request.path}?saved=1")
    context = {"number": number, "form": form, "saved": request.GET.get("saved")}
    return render(request, "numbers/settings.html", context, status=422 if form.errors else 200)


@operator_view
def hold_banner(request, conversation_id: int):
    """Why messages on this conversation's number are held now, if they are."""
    conversation = own(request, Conversation, conversation_id)
    number = conversation.number
    hold = policies.number_hold(number, request.org)
    return render(
        request,
        "engine/_hold_banner.html",
        {"hold": hold, "number": number, "conversation": conversation},
    )
