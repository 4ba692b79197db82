"""The API tokens page (/settings/tokens/): your tokens (owners and admins: everyone's in the
organization), a form for a new one whose secret is shown once, and revocation."""

from datetime import date, timedelta

from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from conversa.accounts import tokens
from conversa.accounts.mfa import require_fresh_second_factor
from conversa.accounts.models import ApiToken
from conversa.accounts.scoping import get_for_org_or_404
from conversa.errors import NotFound, Refused
from conversa.web import operator_view


def page_context(request, **extra) -> dict:
    member = request.member
    today = timezone.localdate()
    rows = list(tokens.visible_tokens(member)[:500])
    now = timezone.now()
    for token in rows:
        token.active = token.usable(now)
        token.expired = token.revoked_at is None and not token.active
        if token.expires_at:
            # It expires as that day ends: the page names the day, not the next midnight.
            token.last_day = timezone.localtime(token.expires_at - timedelta(microseconds=1))
    return {
        "section": "tokens",
        "tokens": rows,
        "scopes": [(s, ApiToken.Scope(s).label) for s in tokens.allowed_scopes(member)],
        "shows_everyone": member.administers,
        "draft": {"name": "", "scope": ApiToken.Scope.READ, "expiry": "never", "expires_on": ""},
        "min_date": (today + timedelta(days=1)).isoformat(),
        "max_date": (today + timedelta(days=730)).isoformat(),
        **extra,
    }


@operator_view
@require_GET
def tokens_page(request):
    return render(request, "settings/tokens.html", page_context(request))


@operator_view
@require_POST
@require_fresh_second_factor
def create_token(request):
    """Create a token for the signed-in member; the page shows its secret this once.
    (The one place a person creates a token from a page.)"""
    draft = {
        "name": request.POST.get("name", "")[:200],
        "scope": request.POST.get("scope", ""),
        "expiry": "date" if request.POST.get("expiry") == "date" else "never",
        "expires_on": request.POST.get("expires_on", "")[:20],
    }
    try:
        expires_at = None
        if draft["expiry"] == "date":
            expires_at = tokens.expiry_on(parse_day(draft["expires_on"]))
        token, secret = tokens.issue_token(
            acting_member=request.member,
            name=draft["name"],
            scope=draft["scope"],
            expires_at=expires_at,
        )
    except Refused as exc:
        if isinstance(exc, NotFound):
            raise
        context = page_context(request, error=str(exc), error_field=exc.field, draft=draft)
        return render(request, "settings/tokens.html", context, status=exc.status)
    context = page_context(request, created=token, secret=secret)
    response = render(request, "settings/tokens.html", context, status=201)
    # The secret is on this page only: never kept by a cache or the browser's history.
    response["Cache-Control"] = "no-store"
    return response


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refused(tokens.expiry_refusal(), field="expires_at") from None


@operator_view
@require_POST
def revoke_token(request, token_id: int):
    token = get_for_org_or_404(request.org, ApiToken, pk=token_id)
    if token.member_id != request.member.pk and not request.member.administers:
        raise NotFound("API token not found")
    tokens.revoke_token(token, acting_member=request.member)
    return redirect("settings-tokens")
