"""The simulator's tenants are organizations: a sandbox twin belongs to the organization whose
number it plays (conversa/sandbox/tenants.py; this module is named by settings.SANDBOX_TENANTS,
the tenant of an organization is providers.registry.sandbox_tenant)."""

from conversa.providers.registry import sandbox_tenant


def visible_tenants(request) -> set[str]:
    """A signed-in member sees their organization's sandbox numbers; anyone else none."""
    org = getattr(request, "org", None)
    if getattr(request, "member", None) is None or org is None:
        return set()
    return {sandbox_tenant(org.pk)}
