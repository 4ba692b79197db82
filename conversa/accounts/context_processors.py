from django.conf import settings


def organization(request):
    return {
        "org": getattr(request, "org", None),
        "member": getattr(request, "member", None),
        # The page reports its tab idle after this long without input (inbox/presence.py).
        "presence_idle_seconds": settings.PRESENCE_IDLE_SECONDS,
    }
