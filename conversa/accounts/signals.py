"""What follows a sign-in: the member's chosen language becomes the language cookie (set by
OrganizationMiddleware on the answer), whichever view signed them in."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from conversa.accounts.members import language_of


@receiver(user_logged_in)
def remember_language(sender, request, user, **kwargs):
    if request is None:
        return
    language = language_of(user)
    if language:
        request.chosen_language = language
