"""A contact's LGPD rights through the API (owners and admins): the export as a ZIP, and the
erasure of their personal data (campaigns.privacy). A signed-in session with two-step
verification needs a fresh code for either; a token is its own credential."""

from django.http import FileResponse, HttpRequest
from django.utils import timezone
from ninja import Field, Path, Router, Schema

from conversa.accounts import mfa
from conversa.accounts.scoping import get_for_org_or_404
from conversa.bounds import MAX_ID
from conversa.campaigns import privacy
from conversa.inbox.models import Contact

router = Router(tags=["contacts"])


class EraseIn(Schema):
    confirmation: str = Field(
        max_length=100, description=f"The word {privacy.CONFIRMATION_WORD}, typed to confirm."
    )


class ErasedOut(Schema):
    contact_id: int
    messages_emptied: int
    media_files_deleted: int
    sends_cancelled: int
    consent_records_kept: int
    audit_entries_stripped: int


@router.get(
    "/contacts/{contact_id}/export",
    openapi_extra={
        "responses": {
            200: {
                "description": "a ZIP: contact.json and media/",
                "content": {
                    "application/zip": {
                        "schema": {"type": "string", "format": "binary"},
                        "example": "(the ZIP's bytes)",
                    }
                },
            }
        }
    },
)
def export_contact(request: HttpRequest, contact_id: int = Path(..., ge=1, le=MAX_ID)):
    """Everything held about the contact, as a ZIP: `contact.json` and `media/` (their files).
    Recorded in the audit log."""
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    privacy.must_administer(request.member)
    mfa.refuse_without_fresh_factor(request)
    archive = privacy.export(contact, acting_member=request.member)
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"contact-{contact.pk}-{timezone.localdate().isoformat()}.zip",
        content_type="application/zip",
    )


@router.post("/contacts/{contact_id}/erase", response=ErasedOut)
def erase_contact(
    request: HttpRequest, payload: EraseIn, contact_id: int = Path(..., ge=1, le=MAX_ID)
):
    """Erase the contact's personal data (cannot be undone): message texts and files deleted,
    the contact anonymized, pending sends cancelled, consent records kept marked erased, audit
    entries kept without details. 409 when already erased."""
    contact = get_for_org_or_404(request.org, Contact, pk=contact_id)
    privacy.must_administer(request.member)
    mfa.refuse_without_fresh_factor(request)
    done = privacy.erase(contact, acting_member=request.member, confirmation=payload.confirmation)
    return {
        "contact_id": contact.pk,
        "messages_emptied": done.messages,
        "media_files_deleted": done.files,
        "sends_cancelled": done.sends_cancelled,
        "consent_records_kept": done.consent_records,
        "audit_entries_stripped": done.audit_entries,
    }
