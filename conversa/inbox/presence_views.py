"""Pages of presence and notifications: the availability menu in the app shell, the team view
for supervisors, the unread count the tab's title shows, and the member's own notification
settings (/settings/notifications/)."""

from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from conversa import business_hours
from conversa.accounts.models import Member
from conversa.accounts.scoping import scoped
from conversa.errors import Forbidden, Refused
from conversa.inbox import notifications, presence
from conversa.inbox.models import Conversation, Queue
from conversa.inbox.thread import duration_text
from conversa.web import operator_view

PREFERENCES = ("automatic", "notify_assigned", "notify_messages", "notify_mentions", "notify_sound")


@operator_view
def availability(request):
    """The menu in the shell: GET redraws it (a live refresh), POST chooses."""
    if request.method == "POST":
        choice = request.POST.get("availability", "")
        if choice not in Member.Availability.values:
            raise Refused(gettext("Choose online, away or offline."))
        presence.choose(request.member, choice, acting_member=request.member)
        if not request.htmx:
            back = request.POST.get("next", "")
            safe = url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure())
            return redirect(back if safe and back.startswith("/") else reverse("inbox"))
    else:
        request.member.refresh_from_db(fields=["availability"])
    return render(request, "inbox/_availability.html", {"member": request.member})


@require_GET
@operator_view
def unread(request):
    """The count in the tab's title (my unread conversations and mentions), and whether my
    notifications play a sound (a preference changed in another tab applies here too)."""
    mine = presence.presence_of(request.member)
    return JsonResponse(
        {"unread": notifications.unread_count(request.member, mine), "sound": mine.notify_sound}
    )


def team_context(request) -> dict:
    org = request.org
    now = timezone.now()
    members = list(scoped(org, Member).prefetch_related("queues").order_by("display_name", "id"))
    order = {Member.Availability.ONLINE: 0, Member.Availability.AWAY: 1}
    members.sort(key=lambda m: order.get(m.availability, 2))
    counts = {
        state: sum(1 for m in members if m.availability == state)
        for state in Member.Availability.values
    }
    waiting = scoped(org, Conversation).filter(
        status=Conversation.Status.OPEN, assignee__isnull=True
    )
    per_queue = {
        row["queue_id"]: row
        for row in waiting.values("queue_id").annotate(n=Count("id"), oldest=Min("opened_at"))
    }
    schedule = org.sla_schedule()
    queues = []
    rows = list(
        scoped(org, Queue)
        .annotate(
            online=Count("members", filter=Q(members__availability=Member.Availability.ONLINE))
        )
        .order_by("name", "id")
    )
    for queue in [*rows, None]:
        row = per_queue.get(queue.pk if queue else None)
        if queue is None and row is None:
            continue
        oldest = None
        if row:
            first = (
                waiting.filter(queue_id=queue.pk if queue else None)
                .order_by("opened_at", "id")
                .select_related("contact")
                .first()
            )
            oldest = {
                "conversation": first,
                "business": duration_text(
                    business_hours.business_seconds(first.opened_at, now, schedule)
                ),
                "clock": duration_text((now - first.opened_at).total_seconds()),
            }
        queues.append(
            {
                "queue": queue,
                "waiting": row["n"] if row else 0,
                "online": queue.online if queue else None,
                "oldest": oldest,
            }
        )
    return {"members": members, "counts": counts, "queues": queues, "now": now}


@require_GET
@operator_view
def team(request):
    """Supervisors' live view of the team: who is online, away or offline, their open
    conversations against capacity, and each queue's oldest waiting conversation."""
    if not request.member.supervises:
        raise Forbidden(gettext("Only supervisors see the team view."))
    context = team_context(request)
    if request.htmx and request.GET.get("fragment"):
        return render(request, "inbox/_team.html", context)
    return render(request, "inbox/team.html", context)


@operator_view
def notification_settings(request):
    """The member's own notifications and "online when I connect"."""
    if request.method == "POST":
        presence.set_preferences(
            request.member,
            acting_member=request.member,
            **{name: request.POST.get(name) == "on" for name in PREFERENCES},
        )
        return redirect(f"{reverse('settings-notifications')}?saved=1")
    context = {
        "section": "notifications",
        "presence": presence.presence_of(request.member),
        "idle_minutes": max(settings.PRESENCE_IDLE_SECONDS // 60, 1),
        "grace_seconds": int(settings.PRESENCE_GRACE_SECONDS),
    }
    return render(request, "settings/notifications.html", context)
