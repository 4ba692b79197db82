"""Security headers on every answer (issue 16, item 13)."""

import json
import os
import subprocess
import sys

import pytest


def test_pages_say_nosniff_and_same_origin_referrer(client, org):
    answer = client.get("/login/")
    assert answer.status_code == 200
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Referrer-Policy"] == "same-origin"
    assert answer["X-Frame-Options"] == "DENY"


def test_api_answers_carry_them_too(client, db):
    answer = client.get("/api/conversations")
    assert answer.status_code == 401
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Referrer-Policy"] == "same-origin"


def test_no_hsts_over_plain_http_nor_without_secure_cookies(client, db):
    assert "Strict-Transport-Security" not in client.get("/login/", secure=True)


def test_hsts_over_https_when_secure_cookies_are_on(client, db, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    assert client.get("/login/", secure=True)["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/login/")


def test_behind_a_proxy_the_forwarded_scheme_gets_hsts(client, db, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    answer = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert answer["Strict-Transport-Security"] == "max-age=31536000"


def run_settings(name: str, **env):
    """A setting as a process started with `env` (and no SECURE_*, DEBUG…) reads it."""
    code = f"import json; from conversa import settings as s; print(json.dumps(s.{name}))"
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DATABASE_URL")}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**keep, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def settings_under(**env) -> dict:
    """The HSTS settings as a process started with `env` reads them."""
    code = (
        "import json; from conversa import settings as s; print(json.dumps([s.SECURE_HSTS_SECONDS,"
        " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD,"
        " getattr(s, 'SECURE_PROXY_SSL_HEADER', None)]))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_")}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, [0, False, False, None]),
        ({"SECURE_COOKIES": "1"}, [31_536_000, False, False, None]),
        (
            {
                "SECURE_COOKIES": "1",
                "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
                "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            },
            [31_536_000, True, False, ["HTTP_X_FORWARDED_PROTO", "https"]],
        ),
    ],
)
def test_hsts_follows_secure_cookies(env, expected):
    assert settings_under(**env) == expected


def policy(answer) -> dict[str, str]:
    header = answer["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if " " in part.strip())


def test_pages_carry_a_policy_without_inline_scripts(client, db):
    directives = policy(client.get("/login/"))
    assert directives["script-src"] == "'self'"  # no nonce when no page asked for one
    assert directives["style-src"] == "'self'"
    assert directives["style-src-attr"] == "'unsafe-inline'"
    assert directives["img-src"] == "'self' data: blob:"
    assert directives["connect-src"] == "'self' ws://testserver"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"


def test_over_https_the_socket_allowed_is_wss(client, db):
    assert policy(client.get("/login/", secure=True))["connect-src"] == "'self' wss://testserver"


def test_a_page_that_asks_for_a_nonce_gets_it_in_the_policy(rf, db):
    from django.http import HttpResponse

    from conversa.headers import ContentSecurityPolicyMiddleware

    def view(request):
        return HttpResponse(f'<script nonce="{request.csp_nonce}">1</script>')

    request = rf.get("/")
    answer = ContentSecurityPolicyMiddleware(view)(request)
    nonce = answer.content.decode().split('"')[1]
    assert policy(answer)["script-src"] == f"'self' 'nonce-{nonce}'"
