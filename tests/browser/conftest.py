"""A real Conversa for the browser: `conversa serve` in its own process on a fresh database."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"

# What a quiet machine shows at once a loaded two-core one (the suite beside other work) can
# take many seconds to show; a longer wait costs time only when a test fails. Playwright's
# actions and navigations already wait up to 30 s.
expect.set_options(timeout=30_000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def embedded_topology():
    """The browser tests drive one `conversa serve` as `make run` starts it: SQLite, the
    in-memory channel layer, the in-process worker. On the PostgreSQL run of the suite they
    would prove nothing new (the pages are the same); what that topology adds, several processes
    over PostgreSQL and Redis, is tests/integration's."""
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("browser tests run on the SQLite run of the suite (the embedded topology)")


@pytest.fixture(scope="module")
def conversa_server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    tmp_path = tmp_path_factory.mktemp("conversa")
    database_url = f"sqlite:///{tmp_path / 'browser.sqlite3'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "CONVERSA_DATA_DIR": str(tmp_path),
        "CONVERSA_PUBLIC_URL": base,
        "CSRF_TRUSTED_ORIGINS": base,
        "SANDBOX_DELIVERY_DELAY": "0.3",
    }
    conversa = [sys.executable, "-m", "conversa.cli"]
    subprocess.run([*conversa, "migrate", "--noinput", "-v", "0"], env=env, check=True)
    # Its errors, if any, go to the test's captured output.
    demo = subprocess.run(
        [*conversa, "demo"], env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    # Every demo person's password: the owner's, and the operators Ana's and Bruno's.
    passwords = dict(re.findall(r"(\S+@demo\.local)\s+(\S+)", demo.stdout))
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed at teardown)
    server = subprocess.Popen(
        [*conversa, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )

    def answering():
        """`conversa serve` to answer /health"""
        if server.poll() is not None:
            raise AssertionError(f"conversa serve exited with {server.returncode}")
        try:
            return httpx.get(f"{base}/health").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(answering, timeout=60)
    except AssertionError as failure:
        server.kill()
        log.close()
        pytest.fail(f"{failure}: " + (tmp_path / "serve.log").read_text())
    email = "admin@demo.local"
    yield {
        "url": base,
        "email": email,
        "password": passwords[email],
        "passwords": passwords,
        # The demo owner's session, for contexts that open the simulator (simulator_context).
        "signed_in": signed_in_state(base, email, passwords[email]),
        # What `conversa shell` needs to reach the same database.
        "env": env,
    }
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


def signed_in_state(base: str, email: str, password: str) -> dict:
    """A Playwright storage state holding a session of `email`, signed in through the form."""
    with httpx.Client(base_url=base) as client:
        client.get("/login/")
        answer = client.post(
            "/login/",
            data={
                "username": email,
                "password": password,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/login/"},
        )
        assert answer.status_code == 302, answer.text[:500]
        session = client.cookies["sessionid"]
    cookie = {"domain": "127.0.0.1", "path": "/", "httpOnly": True, "sameSite": "Lax"}
    return {"cookies": [{"name": "sessionid", "value": session, **cookie}], "origins": []}


def simulator_context(browser, server, **options):
    """A browser for the simulator's pages: they are for members, so it is signed in as the
    demo's owner, and shows the demo organization's numbers."""
    return browser.new_context(storage_state=server["signed_in"], **options)


def simulator_page(browser, server, **options):
    return simulator_context(browser, server, **options).new_page()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def pages_closed_after_each_test(browser):
    """An open page keeps its socket, and every event then has the server redraw its lists:
    pages left open by earlier tests would load the server for the rest of the module."""
    yield
    for context in browser.contexts:
        context.close()


@pytest.fixture(autouse=True)
def artifacts_folder():
    """Screenshots land in var/test-artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
