"""Sign-in throttled per account and per client address: past the budget every attempt, the
right password included, is refused with a lockout notice that does not reveal whether the
account exists."""

import pytest
from django.test import Client

from conversa.accounts.forms import EmailLoginForm

PASSWORD = "x" * 12


def sign_in(email: str, password: str, address: str = "203.0.113.7"):
    return Client(REMOTE_ADDR=address).post("/login/", {"username": email, "password": password})


def signed_in(answer) -> bool:
    return answer.status_code == 302 and "_auth_user_id" in answer.client.session


def test_thirty_wrong_passwords_then_the_right_one_does_not_sign_in(org):
    email = org.member().user.username
    for _ in range(30):
        assert not signed_in(sign_in(email, "wrong password"))
    answer = sign_in(email, PASSWORD)
    assert not signed_in(answer)
    assert answer.status_code == 200
    assert "Too many attempts, try again in" in answer.content.decode()


def test_the_notice_is_the_same_for_an_account_that_does_not_exist(org):
    real = org.member().user.username
    for email in (real, "nobody@example.test"):
        for _ in range(5):
            sign_in(email, "wrong", address=f"198.51.100.{len(email)}")
    notices = [
        sign_in(email, "wrong", address="192.0.2.99").content.decode()
        for email in (real, "nobody@example.test")
    ]
    for page in notices:
        assert "Too many attempts, try again in 1 minute." in page


def test_a_few_mistakes_still_let_the_right_password_in(org):
    email = org.member().user.username
    for _ in range(4):
        sign_in(email, "wrong")
    assert signed_in(sign_in(email, PASSWORD))


def test_one_address_is_limited_across_accounts(org):
    """Spraying one password over many accounts from one address: the address runs out."""
    accounts = [org.member().user.username for _ in range(3)]
    for n in range(20):
        sign_in(f"guess{n}@example.test", "wrong", address="203.0.113.50")
    answer = sign_in(accounts[0], PASSWORD, address="203.0.113.50")
    assert not signed_in(answer)
    assert "Too many attempts" in answer.content.decode()
    # The same account from elsewhere is unaffected.
    assert signed_in(sign_in(accounts[0], PASSWORD, address="203.0.113.51"))


def test_the_notice_in_portuguese(org):
    email = org.member().user.username
    for _ in range(5):
        sign_in(email, "wrong")
    client = Client(REMOTE_ADDR="203.0.113.7", HTTP_ACCEPT_LANGUAGE="pt-br")
    page = client.post("/login/", {"username": email, "password": PASSWORD}).content.decode()
    assert "Muitas tentativas, tente de novo em 1 minuto." in page


@pytest.mark.parametrize("email", ["", "not an email", "a" * 300 + "@x.test"])
def test_odd_input_is_a_form_error(db, email):
    form = EmailLoginForm(data={"username": email, "password": "x"})
    assert not form.is_valid()
