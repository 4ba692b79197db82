"""The one place where data access is scoped to the caller's organization.

Views and API handlers never filter by organization by hand: they ask for `scoped(org, Model)` or
`get_for_org_or_404(org, Model, …)`. Another organization's object is a 404, never a 403, so
its existence does not leak.
"""

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

from conversa.accounts.models import Organization

M = TypeVar("M", bound=Model)


def scoped(org: Organization, model: type[M]) -> QuerySet[M]:
    if org is None:
        raise Http404("No organization")
    return model.objects.for_org(org)


def get_for_org_or_404(org: Organization, model: type[M], **lookup) -> M:
    try:
        return scoped(org, model).get(**lookup)
    except model.DoesNotExist as exc:
        raise Http404(f"{model._meta.verbose_name} not found") from exc
