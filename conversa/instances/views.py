from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import timezone

from conversa.accounts.scoping import scoped
from conversa.instances.models import Instance


@login_required
def instances(request):
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    cards = (
        scoped(request.org, Instance)
        .annotate(
            queue_depth=Count(
                "jobs", filter=Q(jobs__status__in=["pending", "claimed", "retry_wait"])
            ),
            sent_today=Count("jobs", filter=Q(jobs__status="sent", jobs__updated_at__gte=today)),
        )
        .order_by("name")
    )
    return render(request, "instances/instances.html", {"instances": cards})
