"""Settings → Webhooks (owners and admins): the endpoints, a form for a new one (its secret
shown once), and each endpoint's page: its events, on or off, secret rotation, a test event,
and its delivery log with attempts, filters and replay. The services decide what is accepted."""

from datetime import datetime

from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from conversa.accounts.scoping import get_for_org_or_404
from conversa.errors import NotFound, Refused
from conversa.web import admin_view
from conversa.webhooks import log, services
from conversa.webhooks.catalogue import CATALOGUE
from conversa.webhooks.models import Delivery, Endpoint

LOG_ROWS = 100


def draft_of(request) -> dict:
    return {
        "url": request.POST.get("url", "")[:500],
        "description": request.POST.get("description", "")[:200],
        "events": request.POST.getlist("events")[:50],
    }


def list_context(request, **extra) -> dict:
    return {
        "section": "webhooks",
        "endpoints": Endpoint.objects.for_org(request.org).order_by("pk"),
        "catalogue": CATALOGUE,
        "draft": {"url": "", "description": "", "events": ["message.received"]},
        **extra,
    }


def secret_page(request, template: str, context: dict, status: int = 200):
    response = render(request, template, context, status=status)
    # The secret is on this answer only: never kept by a cache or the browser's history.
    response["Cache-Control"] = "no-store"
    return response


@admin_view
def webhooks_page(request):
    if request.method != "POST":
        return render(request, "settings/webhooks.html", list_context(request))
    draft = draft_of(request)
    try:
        endpoint, secret = services.create_endpoint(acting_member=request.member, **draft)
    except Refused as exc:
        if isinstance(exc, NotFound):
            raise
        context = list_context(request, error=str(exc), error_field=exc.field, draft=draft)
        return render(request, "settings/webhooks.html", context, status=exc.status)
    context = list_context(request, created=endpoint, secret=secret)
    return secret_page(request, "settings/webhooks.html", context, status=201)


def endpoint_context(request, endpoint: Endpoint, **extra) -> dict:
    event_type = request.GET.get("event", "")[:40]
    status = request.GET.get("status", "")
    if status not in Delivery.Status.values:
        status = ""
    rows = list(log.deliveries(endpoint, event_type=event_type, status=status)[:LOG_ROWS])
    for delivery in rows:
        delivery.attempt_log = list(log.attempts(delivery)[:10])
    return {
        "section": "webhooks",
        "endpoint": endpoint,
        "catalogue": CATALOGUE,
        "draft": {
            "url": endpoint.url,
            "description": endpoint.description,
            "events": endpoint.event_types,
        },
        "deliveries": rows,
        "filters": {"event": event_type, "status": status},
        "statuses": Delivery.Status.choices,
        "now": timezone.localtime(),
        **extra,
    }


@admin_view
@require_GET
def endpoint_page(request, endpoint_id: int):
    endpoint = get_for_org_or_404(request.org, Endpoint, pk=endpoint_id)
    return render(request, "settings/webhook.html", endpoint_context(request, endpoint))


@admin_view
@require_POST
def endpoint_edit(request, endpoint_id: int):
    endpoint = get_for_org_or_404(request.org, Endpoint, pk=endpoint_id)
    draft = draft_of(request)
    try:
        services.update_endpoint(endpoint, acting_member=request.member, **draft)
    except Refused as exc:
        if isinstance(exc, NotFound):
            raise
        endpoint.refresh_from_db()
        context = endpoint_context(
            request, endpoint, error=str(exc), error_field=exc.field, draft=draft
        )
        return render(request, "settings/webhook.html", context, status=exc.status)
    return redirect("settings-webhook", endpoint_id=endpoint.pk)


def parse_moment(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text[:32])
    except ValueError:
        raise Refused(
            gettext("Give a date and time for the start and the end."), field=field
        ) from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


@admin_view
@require_POST
def endpoint_action(request, endpoint_id: int, action: str):
    endpoint = get_for_org_or_404(request.org, Endpoint, pk=endpoint_id)
    member = request.member
    if action == "rotate":
        endpoint, secret = services.rotate_secret(endpoint, acting_member=member)
        context = endpoint_context(request, endpoint, secret=secret)
        return secret_page(request, "settings/webhook.html", context)
    if action == "delete":
        services.delete_endpoint(endpoint, acting_member=member)
        return redirect("settings-webhooks")
    if action in ("enable", "disable"):
        services.set_enabled(endpoint, action == "enable", acting_member=member)
    elif action == "test":
        services.send_test(endpoint, acting_member=member)
    elif action == "replay":
        start = parse_moment(request.POST.get("start", ""), "start")
        end = parse_moment(request.POST.get("end", ""), "end")
        log.replay_range(endpoint, start, end, acting_member=member)
    else:
        raise NotFound("No such action")
    return redirect("settings-webhook", endpoint_id=endpoint.pk)


@admin_view
@require_POST
def delivery_replay(request, delivery_id: int):
    delivery = get_for_org_or_404(request.org, Delivery, pk=delivery_id)
    log.replay(delivery, acting_member=request.member)
    return redirect("settings-webhook", endpoint_id=delivery.endpoint_id)
