from conversa.accounts.models import Member


class OrganizationMiddleware:
    """Attaches `request.member` and `request.org` for a signed-in user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = None
        request.org = None
        if request.user.is_authenticated:
            member = (
                Member.objects.select_related("organization")
                .filter(user=request.user)
                .order_by("id")
                .first()
            )
            if member:
                request.member = member
                request.org = member.organization
        return self.get_response(request)
