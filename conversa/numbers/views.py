import uuid

import segno
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from conversa.accounts.mfa import require_fresh_second_factor
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.crypto import masked
from conversa.engine import services as engine
from conversa.engine.models import MessageIntent
from conversa.engine.wording import state
from conversa.errors import Refused
from conversa.inbox import services as inbox
from conversa.numbers import services, webhooks
from conversa.numbers.forms import NumberForm, TestMessageForm
from conversa.numbers.models import Number
from conversa.web import operator_view

QUEUED = ["pending", "claimed", "retry_wait"]


def cards(request):
    """Every number of the organization but removed ones, with today's figures and health."""
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    numbers = list(
        scoped(request.org, Number)
        .exclude(status=Number.Status.REMOVED)
        .annotate(
            queue_depth=Count("jobs", filter=Q(jobs__status__in=QUEUED)),
            sent_today=Count("jobs", filter=Q(jobs__status="sent", jobs__updated_at__gte=today)),
        )
        .order_by("name")
    )
    services.health_scores(numbers, now)
    for number in numbers:
        number.cooling_down = bool(number.cooldown_until and number.cooldown_until > now)
        number.webhook_silence_minutes = round(settings.WEBHOOK_SILENCE_MINUTES)
    return numbers


@operator_view
def numbers(request):
    context = {"numbers": cards(request)}
    if request.htmx:
        return render(request, "numbers/_cards.html", context)
    return render(request, "numbers/numbers.html", context)


def managed(request, number_id: int) -> Number:
    """The organization's number, for someone allowed to change it."""
    if not request.member.manages_numbers:
        raise PermissionDenied
    return get_for_org_or_404(request.org, Number, pk=number_id)


@operator_view
@require_POST
def number_action(request, number_id: int, action: str):
    """A quick action on a number's card or on the pairing page."""
    number = managed(request, number_id)
    if action not in services.ACTIONS or number.status == Number.Status.REMOVED:
        return render(request, "numbers/_error.html", {"error": "unknown action"}, status=404)
    error = ""
    try:
        if action in ("pause", "resume"):
            services.set_paused(number, action == "pause", acting_member=request.member)
        else:
            services.ACTIONS[action](number)
    except Refused as exc:
        error = str(exc)
    if request.POST.get("from") == "pairing":
        return render(request, "numbers/_pairing.html", pairing_context(number, error))
    context = {"numbers": cards(request), "error": error, "error_for": number.pk}
    return render(request, "numbers/_cards.html", context, status=422 if error else 200)


@operator_view
@require_fresh_second_factor
def add_number(request):
    """Step 1 of "Add number": name and provider, checked with the provider before saving.
    A sensitive action: with two-step verification on, it asks for a fresh code first."""
    if not request.member.manages_numbers:
        raise PermissionDenied
    form = NumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            number = services.add_number(request.org, form.settings())
        except Refused as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("number-connect", number_id=number.pk)
    status = 422 if form.errors else 200
    return render(request, "numbers/add.html", {"form": form, "step": 1}, status=status)


def pairing_context(number: Number, error: str = "") -> dict:
    qr = ""
    # Only a number waiting for its scan shows its QR: a disconnected one's last QR is stale,
    # so the page asks the provider for a new one instead.
    if number.qr_code and number.status == Number.Status.CONNECTING:
        qr = segno.make(number.qr_code, error="m").svg_data_uri(scale=5, border=2)
    return {
        "number": number,
        "qr": qr,
        "error": error,
        "webhook_url": services.webhook_url(number),
        "app_secret": masked(number.app_secret),
        "access_token": masked(number.provider_token),
    }


@operator_view
def connect_page(request, number_id: int):
    """Step 2: pair the number (its QR, redrawn as the provider sends new ones), or for a
    Cloud API number the webhook URL and verify token to paste into Meta."""
    number = managed(request, number_id)
    if not request.htmx:
        webhooks.sync_registered_webhook(number)
    # A number that was connected before (its card's "Reconnect") is paired again, outside
    # the "Add number" steps.
    context = {**pairing_context(number), "step": 2, "reconnect": bool(number.phone_number)}
    if request.htmx:
        return render(request, "numbers/_pairing.html", context)
    return render(request, "numbers/connect.html", context)


@operator_view
def done_page(request, number_id: int):
    """Step 3: the number's status and a box to send it a test message (through the engine)."""
    number = managed(request, number_id)
    intent = None
    form = TestMessageForm(request.POST or None, initial={"key": uuid.uuid4()})
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        intent, _ = engine.create_intent(
            request.org,
            contact=inbox.upsert_contact(request.org, phone),
            body=form.cleaned_data["body"],
            origin=MessageIntent.Origin.CHAT_MANUAL,
            idempotency_key=f"test-message:{form.cleaned_data['key']}",
            number=number,
            created_by=request.member,
        )
        form = TestMessageForm(initial={"key": uuid.uuid4(), "phone": phone})
    status = 422 if form.errors else 200
    context = {"number": number, "form": form, "intent": intent, "step": 3}
    if intent is not None:
        context["outcome"], context["tone"] = state(intent)
    return render(request, "numbers/done.html", context, status=status)
