"""API tokens through the API: list, create (the secret in the answer, once), revoke.

A token cannot create tokens: creating one is a signed-in person's act (and, with MFA, one
that asks for a fresh second factor), so a leaked token cannot mint a longer-lived one.
"""

from datetime import date, datetime
from typing import Literal

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext
from ninja import Field, Path, Router, Schema
from ninja.responses import Status

from conversa import cursors
from conversa.accounts import mfa, tokens
from conversa.accounts.models import ApiToken
from conversa.accounts.scoping import get_for_org_or_404
from conversa.cursors import Cursor, Limit
from conversa.errors import Forbidden

router = Router(tags=["api tokens"])

MAX_ID = 2**63 - 1


class TokenOut(Schema):
    id: int
    name: str
    scope: str
    member_id: int
    member_name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    scope: Literal["read", "send", "manage"]
    # The last day the token works (in the organization's time zone); absent or null: never
    # expires. Within two years.
    expires_on: date | None = None


class TokenCreated(TokenOut):
    secret: str = Field(description="Shown this once: only its hash is kept.")


def token_out(token: ApiToken) -> dict:
    return {
        **{f: getattr(token, f) for f in ("id", "name", "scope", "member_id", "created_at")},
        "member_name": token.member.display_name,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
        "active": token.usable(),
    }


@router.get("/tokens", response=list[TokenOut])
def list_tokens(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """Your tokens (owners and admins: the organization's), newest first, without secrets,
    a page at a time."""
    found = tokens.visible_tokens(request.member)
    return [
        token_out(t)
        for t in cursors.page(
            found, order=["-created_at"], cursor=cursor, limit=limit, response=response
        )
    ]


@router.post("/tokens", response={201: TokenCreated})
def create_token(request: HttpRequest, payload: TokenIn):
    """A new token for you. The secret is in this answer and never again."""
    if getattr(request, "api_token_used", None) is not None:
        raise Forbidden(gettext("Tokens are created by a signed-in person, not by a token."))
    mfa.refuse_without_fresh_factor(request)
    token, secret = tokens.issue_token(
        acting_member=request.member,
        name=payload.name,
        scope=payload.scope,
        expires_at=tokens.expiry_on(payload.expires_on),
    )
    return Status(201, {**token_out(token), "secret": secret})


@router.post("/tokens/{token_id}/revoke", response=TokenOut)
def revoke_token(request: HttpRequest, token_id: int = Path(..., ge=1, le=MAX_ID)):
    """Revoke a token at once; it stays listed, revoked. Yours, or (owners and admins) anyone's."""
    token = get_for_org_or_404(request.org, ApiToken, pk=token_id)
    if token.member_id != request.member.pk and not request.member.administers:
        # Not a 403: another member's token is not theirs to know about.
        raise Http404("API token not found")
    return token_out(tokens.revoke_token(token, acting_member=request.member))
