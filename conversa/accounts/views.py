from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from conversa.accounts import mfa
from conversa.accounts.forms import EmailLoginForm
from conversa.web import operator_view


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailLoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        """The password was right. With two-step verification on, not signed in yet: the
        second step (/login/verify) signs in."""
        user = form.get_user()
        if mfa.is_enrolled(user):
            mfa.begin_sign_in(self.request, user, next_url=self.get_success_url())
            return redirect("login-verify")
        return super().form_valid(form)


# The sections later issues build; until then each says so plainly.
UPCOMING = {
    "pipeline": (_("Pipeline"), _("Leads, stages and follow-up automations arrive here soon.")),
    "campaigns": (
        _("Campaigns"),
        _("Consented outreach with quotas and quiet hours arrives here soon."),
    ),
    "insights": (_("Insights"), _("Response times, delivery rates and exports arrive here soon.")),
}


@login_required
def upcoming(request, section: str):
    title, text = UPCOMING[section]
    return render(request, "upcoming.html", {"title": title, "text": text, "section": section})


@operator_view
def settings_home(request):
    """The settings pages' entry: each section is a page of its own under /settings/."""
    return render(request, "settings/home.html", {"section": None})
