"""The simulator's request bin: where a customer system would receive Conversa's outbound
webhooks, so the demo shows them end to end. Settings → Webhooks points an endpoint at the
bin's address; the bin keeps the last requests (headers, body) and, with the endpoint's secret
pasted in, checks each signature the way the Standard Webhooks specification tells a receiver
to (HMAC-SHA256 of `id.timestamp.body`, any of the space-separated `v1,` signatures, a
timestamp within five minutes). Written here from the specification, not with Conversa's own
signing code: the simulator stands for the outside world."""

import base64
import binascii
import hashlib
import hmac
import secrets
import time

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from conversa.sandbox import tenants
from conversa.sandbox.customer import for_members
from conversa.sandbox.models import SandboxHookBin, SandboxHookRequest

KEEP = 50
MAX_BODY = 256 * 1024
TOLERANCE = 5 * 60
SHOWN_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")


def verify(secret: str, headers: dict, body: bytes, now: float | None = None) -> bool:
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not (secret and msg_id and stamp.isdigit()):
        return False
    if abs((now or time.time()) - int(stamp)) > TOLERANCE:
        return False
    encoded = secret.strip().removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    given = headers.get("webhook-signature", "").split(" ")
    return any(hmac.compare_digest(expected, s) for s in given)


def bin_of(request) -> SandboxHookBin:
    tenant = min(request.sandbox_tenants) if request.sandbox_tenants else ""
    found, _ = SandboxHookBin.objects.get_or_create(
        tenant=tenant, defaults={"key": secrets.token_urlsafe(24)}
    )
    return found


def with_bin(view):
    @for_members
    def wrapper(request, *args, **kwargs):
        request.sandbox_tenants = tenants.visible_tenants(request)
        return view(request, bin_of(request), *args, **kwargs)

    return wrapper


@with_bin
def bin_page(request, hook_bin: SandboxHookBin):
    rows = list(hook_bin.requests.order_by("-received_at", "-id")[:KEEP])
    for row in rows:
        row.shown = [(k, row.headers.get(k, "")) for k in SHOWN_HEADERS if k in row.headers]
    address = request.build_absolute_uri(f"/sandbox/hooks/in/{hook_bin.key}")
    context = {"bin": hook_bin, "address": address, "requests": rows}
    return render(request, "sandbox/request_bin.html", context)


@require_POST
@with_bin
def bin_secret(request, hook_bin: SandboxHookBin):
    hook_bin.secret = request.POST.get("secret", "").strip()[:200]
    hook_bin.save(update_fields=["secret"])
    return redirect("sandbox-hooks")


@csrf_exempt
@require_POST
def receive(request, key: str):
    """A delivery arrives: kept (the newest KEEP), verified when the bin has a secret."""
    hook_bin = SandboxHookBin.objects.filter(key=key).first()
    if hook_bin is None:
        raise Http404
    body = request.body[:MAX_BODY]
    headers = {k.lower(): v[:2000] for k, v in request.headers.items()}
    verified = verify(hook_bin.secret, headers, body) if hook_bin.secret else None
    SandboxHookRequest.objects.create(
        bin=hook_bin, headers=headers, body=body.decode("utf-8", "replace"), verified=verified
    )
    old = hook_bin.requests.order_by("-received_at", "-id").values_list("id", flat=True)[KEEP:]
    SandboxHookRequest.objects.filter(id__in=list(old)).delete()
    return HttpResponse("ok", content_type="text/plain")
