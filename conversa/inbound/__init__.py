"""The inbound flow: a provider's webhook verified, stored once raw, applied, and what follows a
customer's message (`consequences.customer_wrote`). See docs/architecture.md."""
