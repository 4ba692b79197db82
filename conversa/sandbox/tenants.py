"""Whose numbers are whose in the simulator, without knowing what an organization is.

Every SandboxInstance carries an opaque `tenant` (whatever the caller chose; Conversa uses its
organization's id). Two ways in, both opaque to the simulator:

- The Evolution API: Conversa never hands an organization the global SANDBOX_API_KEY. Each
  tenant gets its own key, derived from the global one (`api_key_for`), as if each organization
  ran its own Evolution server: an instance it creates belongs to it, `fetchInstances` lists its
  instances only, and another tenant's instance is refused (401) whatever the route. The global
  key stays the install's own (Evolution's AUTHENTICATION_API_KEY): it reaches every instance,
  but never shows an instance's token or webhook headers that belong to a tenant.
- The customer pages: a signed-in member sees the tenants the function named by
  settings.SANDBOX_TENANTS returns for the request (Conversa's is
  conversa.numbers.sandbox_tenants.visible_tenants), and nothing else.
"""

import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.utils.module_loading import import_string

PREFIX = "tenant"
# The tenant, then an HMAC of it under the global key: "tenant.<tenant>.<hex>".
KEY = re.compile(r"^tenant\.([A-Za-z0-9_-]{1,64})\.([0-9a-f]{64})$")


def signature(tenant: str) -> str:
    return hmac.new(
        settings.SANDBOX_API_KEY.encode(), f"{PREFIX}:{tenant}".encode(), hashlib.sha256
    ).hexdigest()


def api_key_for(tenant: str) -> str:
    """The Evolution API key of `tenant` (letters, digits, `_` and `-`, at most 64)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tenant):
        raise ValueError("a sandbox tenant is 1 to 64 letters, digits, '_' or '-'")
    return f"{PREFIX}.{tenant}.{signature(tenant)}"


def tenant_of_key(api_key: str) -> str | None:
    """The tenant whose key `api_key` is, or None (not a tenant key, or a forged one)."""
    match = KEY.match(api_key)
    if not match:
        return None
    tenant, given = match.groups()
    return tenant if secrets.compare_digest(given, signature(tenant)) else None


def visible_tenants(request) -> set[str]:
    """The tenants whose numbers the signed-in person on the customer pages may see and act on."""
    if not settings.SANDBOX_TENANTS:
        return set()
    return {str(t) for t in import_string(settings.SANDBOX_TENANTS)(request) if t}
