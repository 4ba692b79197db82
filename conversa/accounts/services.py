"""State changes of organizations and their members."""

from conversa.accounts.models import ApiToken, Member


def create_api_token(member: Member, name: str) -> str:
    """A new API token for `member`'s organization. Returns the secret, which is not stored."""
    raw = ApiToken.new_secret()
    ApiToken.objects.create(
        organization_id=member.organization_id,
        member=member,
        name=name,
        token_hash=ApiToken.hash(raw),
    )
    return raw
