"""Settings → Assistant: the organization's AI model (server, model, key, daily budget), a
"Test connection" button, and the tokens used today. Owners and admins; the service
(assistant.services) decides what is accepted."""

from django import forms
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from conversa.assistant import llm, services
from conversa.assistant.models import (
    MAX_API_KEY_LENGTH,
    MAX_BASE_URL_LENGTH,
    MAX_DAILY_TOKEN_BUDGET,
    MAX_MODEL_LENGTH,
)
from conversa.errors import Refused
from conversa.web import admin_view


class ModelSettingsForm(forms.Form):
    base_url = forms.CharField(
        label=_("Server address (base URL)"),
        required=False,
        max_length=MAX_BASE_URL_LENGTH,
        widget=forms.URLInput(attrs={"placeholder": "https://api.openai.com/v1"}),
        help_text=_(
            "Any server with an OpenAI-compatible API: OpenAI, Azure OpenAI, OpenRouter, Groq, "
            "vLLM, llama.cpp or Ollama. Empty: the default this server was set up with."
        ),
    )
    model = forms.CharField(
        label=_("Model"),
        required=False,
        max_length=MAX_MODEL_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "gpt-4o-mini", "spellcheck": "false"}),
    )
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        max_length=MAX_API_KEY_LENGTH,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
        ),
        help_text=_("Stored encrypted and never shown again. Leave empty to keep the current one."),
    )
    clear_api_key = forms.BooleanField(label=_("Remove the stored key"), required=False)
    daily_token_budget = forms.IntegerField(
        label=_("Daily token budget"),
        required=False,
        min_value=1,
        max_value=MAX_DAILY_TOKEN_BUDGET,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=_(
            "Tokens (questions and answers) the assistant may use each day, in the "
            "organization's time zone; when they are spent it stops until midnight. Empty: "
            "the default."
        ),
    )

    def settings(self) -> dict:
        data = self.cleaned_data
        return {
            "base_url": data["base_url"],
            "model": data["model"],
            "api_key": data["api_key"] or None,
            "clear_api_key": data["clear_api_key"],
            "daily_token_budget": data["daily_token_budget"],
        }


def page(request, form, *, status=200, **extra):
    view = services.model_view(request.org)
    context = {
        "section": "assistant",
        "form": form,
        "view": view,
        "share": min(100, round(100 * view.used_today / view.effective_budget))
        if view.effective_budget
        else 0,
        "saved": request.GET.get("saved"),
        "summaries": llm.settings_row(request.org),
        **extra,
    }
    return render(request, "assistant/settings.html", context, status=status)


@admin_view
def model_settings(request):
    """Show and change the organization's model settings."""
    form = ModelSettingsForm(request.POST or None, initial=initial_of(request.org))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_model_settings(
                request.org, acting_member=request.member, **form.settings()
            )
        except Refused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            return redirect(f"{request.path}?saved=1")
    return page(request, form, status=422 if form.errors else 200)


@admin_view
@require_POST
def test_connection(request):
    """One tiny call to the model as saved: its answer, or what is wrong, in words."""
    try:
        answer = services.test_connection(request.org, acting_member=request.member)
        result = {"ok": True, "answer": answer}
    except llm.ModelError as exc:
        result = {"ok": False, "error": str(exc)}
    if request.htmx:
        return render(request, "assistant/_test_result.html", {"result": result})
    return page(request, ModelSettingsForm(initial=initial_of(request.org)), result=result)


def initial_of(org) -> dict:
    row = llm.settings_row(org)
    return {
        "base_url": row.base_url,
        "model": row.model,
        "daily_token_budget": row.daily_token_budget,
    }
