"""`/api/opt-out-keywords`: the words that stop and resume automated and campaign messages,
how they are matched, and the confirmations sent (owners and admins)."""

from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import StringConstraints

from conversa.campaigns import keywords
from conversa.engine import policies

router = Router(tags=["opt-out keywords"])

Keyword = Annotated[str, StringConstraints(max_length=keywords.MAX_KEYWORD_LENGTH)]
Keywords = Annotated[list[Keyword], Field(min_length=1, max_length=keywords.MAX_KEYWORDS)]
Reply = Annotated[str, StringConstraints(max_length=keywords.MAX_REPLY_LENGTH)]


class KeywordsIn(Schema):
    """The whole setting: every field is replaced."""

    # Words that opt a contact out (and withdraw marketing consent); at least one.
    opt_out: Keywords
    # Words that opt them back in (marketing consent is not granted by them); at least one.
    opt_in: Keywords
    # "whole": the message, normalized, is the keyword; "anywhere": its words appear in it.
    match: Literal["whole", "anywhere"]
    # The confirmations sent; "" sends none.
    opt_out_reply: Reply = ""
    opt_in_reply: Reply = ""


class KeywordsOut(Schema):
    opt_out: list[str]
    opt_in: list[str]
    match: str
    opt_out_reply: str
    opt_in_reply: str


def keywords_out(found) -> dict:
    return {f: getattr(found, f) for f in KeywordsOut.model_fields}


@router.get("/opt-out-keywords", response=KeywordsOut)
def get_keywords(request: HttpRequest):
    """The organization's opt-out keywords (the defaults until it saves its own)."""
    policies.must_administer(request.member)
    return keywords_out(keywords.settings_for(request.org.pk))


@router.put("/opt-out-keywords", response=KeywordsOut)
def put_keywords(request: HttpRequest, payload: KeywordsIn):
    """Replace the organization's opt-out keywords and confirmations; recorded in the audit
    log. A word in both lists, or one without a letter or digit, is refused (422)."""
    found = keywords.update_settings(
        request.org, acting_member=request.member, **payload.model_dump()
    )
    return keywords_out(found)
