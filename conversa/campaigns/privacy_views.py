"""The contact's privacy page (`/contacts/<id>/privacy/`): export everything held about them,
or erase their personal data (campaigns.privacy). Owners and admins only; both ask for a fresh
second factor when the member has one."""

from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from conversa.accounts import mfa
from conversa.campaigns import privacy
from conversa.engine.policy_views import own
from conversa.errors import Refused
from conversa.inbox.models import Contact
from conversa.web import admin_view


def page(request, contact: Contact, *, error: str = "", status: int = 200):
    context = {
        "contact": contact,
        "word": gettext(privacy.CONFIRMATION_WORD),
        "error": error,
        "erased": request.GET.get("erased") == "1",
    }
    return render(request, "campaigns/privacy.html", context, status=status)


@admin_view
def contact_privacy(request, contact_id: int):
    return page(request, own(request, Contact, contact_id))


@admin_view
@mfa.require_fresh_second_factor
def contact_export(request, contact_id: int):
    """The ZIP, streamed from its temporary file (closed when the response is)."""
    contact = own(request, Contact, contact_id)
    archive = privacy.export(contact, acting_member=request.member)
    day = timezone.localdate().isoformat()
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"contact-{contact.pk}-{day}.zip",
        content_type="application/zip",
    )


@admin_view
@require_POST
def contact_erase(request, contact_id: int):
    """The typed confirmation word is the confirmation step; with two-step verification a
    fresh code is asked first (the person comes back here and confirms again)."""
    contact = own(request, Contact, contact_id)
    if refusal := mfa.fresh_factor_redirect(request):
        return refusal
    try:
        privacy.erase(
            contact,
            acting_member=request.member,
            confirmation=request.POST.get("confirmation", "")[:100],
        )
    except Refused as exc:
        return page(request, contact, error=str(exc), status=exc.status)
    return redirect(reverse("contact-privacy", args=[contact.pk]) + "?erased=1")
