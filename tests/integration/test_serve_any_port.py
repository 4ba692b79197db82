"""The demo works on whatever port `conversa serve` uses: `conversa demo` registers the sandbox
number's webhook with the default URL (port 8000), and `conversa serve --port N` points it at
itself when it starts, so a customer's message reaches the inbox."""

import os
import re
import sqlite3
import subprocess
import sys

import httpx
import pytest

from tests.browser.conftest import free_port
from tests.browser.server import stop
from tests.conftest import wait_for


@pytest.fixture
def served_elsewhere(tmp_path):
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("the embedded topology (SQLite, in-process sandbox) is what this is about")
    database = tmp_path / "serve.sqlite3"
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CONVERSA_PUBLIC_URL", "SANDBOX_URL", "CSRF_TRUSTED_ORIGINS")
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": "",
        "CONVERSA_DATA_DIR": str(tmp_path),
        "SANDBOX_DELIVERY_DELAY": "0.1",
    }
    conversa = [sys.executable, "-m", "conversa.cli"]
    subprocess.run([*conversa, "migrate", "--noinput", "-v", "0"], env=env, check=True)
    demo = subprocess.run(
        [*conversa, "demo"], env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    (password,) = re.findall(r"admin@demo\.local\s+(\S+)", demo.stdout)
    registered = sqlite3.connect(database).execute(
        "SELECT webhook_url FROM providers_sandboxinstance"
    )
    assert all(":8000/" in url for (url,) in registered), "the demo registers the default port"
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed at teardown)
    server = subprocess.Popen(
        [*conversa, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"

    def answering():
        """`conversa serve` to answer /health"""
        assert server.poll() is None, (tmp_path / "serve.log").read_text()
        try:
            return httpx.get(f"{base}/health").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(answering, timeout=60)
        yield base, database, password
    finally:
        stop(server)
        log.close()


def test_a_customer_message_reaches_the_inbox_when_served_on_another_port(served_elsewhere):
    base, database, password = served_elsewhere
    db = sqlite3.connect(database)
    ((instance, url),) = db.execute("SELECT name, webhook_url FROM providers_sandboxinstance")
    assert url.startswith(f"{base}/webhooks/sandbox/"), "serve pointed the sandbox at itself"
    (stored,) = db.execute("SELECT webhook_url FROM instances_number").fetchone()
    assert stored == url, "the number remembers what is registered"

    customer = httpx.Client(base_url=base, follow_redirects=False)
    # The simulator's pages are for members: the demo's owner plays the customer.
    customer.get("/login/")
    signed_in = customer.post(
        "/login/",
        data={
            "username": "admin@demo.local",
            "password": password,
            "csrfmiddlewaretoken": customer.cookies["csrftoken"],
        },
    )
    assert signed_in.status_code == 302
    customer.get("/sandbox/")
    response = customer.post(
        "/sandbox/send",
        data={
            "instance": instance,
            "phone": "5511977776666",
            "name": "Paula",
            "text": "Chegou pela porta nova?",
            "csrfmiddlewaretoken": customer.cookies["csrftoken"],
        },
    )
    assert response.status_code == 302

    def arrived():
        """the customer's message in the inbox"""
        query = "SELECT direction FROM inbox_message WHERE body = ?"
        return sqlite3.connect(database).execute(query, ["Chegou pela porta nova?"]).fetchone()

    assert wait_for(arrived) == ("in",)
