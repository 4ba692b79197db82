"""The one refusal type (Zulip's JsonableError, in our words).

A service that cannot make a change raises a `Refused` saying why, in words for the person who
asked. It carries a machine `code`, the HTTP `status` it becomes and, when the refusal is about
one input, the `field`. It is turned into an answer once for the API (`conversa.api`) and once
for pages (`conversa.web.RefusedMiddleware`); a view that shows the reason beside a form catches
`Refused` itself.
"""

from typing import Any


class Refused(Exception):
    """The change cannot be made: invalid input (422), unless a subclass says otherwise."""

    code = "invalid"
    status = 422

    def __init__(self, message: str, *, field: str | None = None, holder: Any = None):
        super().__init__(message)
        self.field = field
        # Who holds what was asked for (a conversation someone else claimed first), if anyone.
        self.holder = holder


class Forbidden(Refused):
    """The acting member's role may not do this."""

    code, status = "forbidden", 403


class NotFound(Refused):
    """The object does not exist in the acting member's organization."""

    code, status = "not_found", 404


class Conflict(Refused):
    """The change clashes with what exists or with what someone else did first."""

    code, status = "conflict", 409


class InvalidTransition(Conflict):
    """Something asked to move where its state machine does not go, or was moved by someone
    else first (a job the reaper took back, an intent already sending)."""


class ProviderRefused(Refused):
    """The provider (Evolution API, the Graph API) refused to register or act on a number."""

    code, status = "provider_refused", 502
