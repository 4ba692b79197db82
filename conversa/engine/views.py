from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from conversa.accounts.scoping import scoped
from conversa.engine.models import MessageIntent


def intents_context(org):
    intents = (
        scoped(org, MessageIntent)
        .select_related("contact", "job", "instance")
        .prefetch_related("decisions")[:200]
    )
    return {"intents": intents}


@login_required
def intents(request):
    template = "engine/_intent_rows.html" if request.htmx else "engine/intents.html"
    return render(request, template, intents_context(request.org))
