"""What follows a sign-in, and a failed one.

- The member's chosen language becomes the language cookie (set by OrganizationMiddleware on the
  answer), whichever view signed them in.
- Sign-ins and failed sign-ins go to the audit timeline. A failed sign-in on an email that
  belongs to members of some organizations is recorded in each of them; one on an unknown email
  in none (there is no organization to tell). The password tried is never stored: Django hands
  the signal the credentials with the password masked, and only the email is read from them.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from conversa.accounts.members import language_of
from conversa.accounts.mfa import record_for_person


@receiver(user_logged_in)
def remember_language(sender, request, user, **kwargs):
    if request is None:
        return
    language = language_of(user)
    if language:
        request.chosen_language = language


@receiver(user_logged_in, dispatch_uid="audit-signed-in")
def signed_in(sender, request, user, **kwargs):
    how = getattr(request, "second_factor", None) if request is not None else None
    record_for_person(user, "member.signed_in", **({"second_factor": how} if how else {}))


@receiver(user_login_failed, dispatch_uid="audit-sign-in-failed")
def sign_in_failed(sender, credentials, request=None, **kwargs):
    email = credentials.get("username")
    if not isinstance(email, str) or not email or len(email) > 254:
        return
    user = get_user_model().objects.filter(username=email.strip().lower()).first()
    if user is not None:
        record_for_person(user, "member.sign_in_failed", as_actor=False)
