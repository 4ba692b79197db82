"""A real Conversa for the browser: `conversa serve` in its own process on a fresh database."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database(tmp_path: Path) -> tuple[str, callable]:
    """A database of its own: a new SQLite file, or a new PostgreSQL database beside `test`."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{tmp_path / 'browser.sqlite3'}", lambda: None
    import psycopg

    name = f"conversa_browser_{os.getpid()}"
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.rsplit("/", 1)[0] + f"/{name}", drop


@pytest.fixture(scope="module")
def conversa_server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    tmp_path = tmp_path_factory.mktemp("conversa")
    database_url, drop = fresh_database(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CONVERSA_DATA_DIR": str(tmp_path),
        "CONVERSA_PUBLIC_URL": base,
        "CSRF_TRUSTED_ORIGINS": base,
        "SANDBOX_DELIVERY_DELAY": "0.3",
        "CHANNELS_PREFIX": f"browser{port}",
    }
    conversa = [sys.executable, "-m", "conversa.cli"]
    subprocess.run([*conversa, "migrate", "--noinput", "-v", "0"], env=env, check=True)
    demo = subprocess.run([*conversa, "demo"], env=env, check=True, capture_output=True, text=True)
    # Every demo person's password: the owner's, and the operators Ana's and Bruno's.
    passwords = dict(re.findall(r"(\S+@demo\.local)\s+(\S+)", demo.stdout))
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed at teardown)
    server = subprocess.Popen(
        [*conversa, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("conversa serve did not start: " + (tmp_path / "serve.log").read_text())
    email = "admin@demo.local"
    yield {"url": base, "email": email, "password": passwords[email], "passwords": passwords}
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()
    drop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def artifacts_folder():
    """Screenshots land in var/test-artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
