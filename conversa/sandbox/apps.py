from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Conversa's WhatsApp simulator: Evolution API v2 and Graph API emulation, the customer's
    page, fault injection. It depends on nothing of ours but the provider interface."""

    name = "conversa.sandbox"
    label = "sandbox"
