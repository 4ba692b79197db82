"""Asking the satisfaction survey through the engine when a conversation is resolved (the
survey's rows, settings and answers are the inbox's: `conversa.inbox.surveys`)."""
