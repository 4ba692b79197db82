"""A real Conversa on this machine: `conversa serve` in its own process on a fresh SQLite
database with the demo loaded, and the Chromium that looks at it. Shared by the browser tests'
fixtures (conftest.py) and `make screenshots` (scripts/screenshots.py)."""

import atexit
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from conversa.insights.rows import local_hour

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
OWNER_EMAIL = "admin@demo.local"
# A database migrated once per process and copied for each server: every browser test module
# starts its own server, and migrating ~100 migrations each time cost seconds apiece.
_MIGRATED: Path | None = None


def migrated_copy(target: Path, env: dict) -> None:
    """`target` becomes an empty, fully migrated SQLite database."""
    global _MIGRATED
    if _MIGRATED is None or not _MIGRATED.exists():
        template = Path(tempfile.mkdtemp(prefix="conversa-migrated-")) / "migrated.sqlite3"
        atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
        conversa = [sys.executable, "-m", "conversa.cli"]
        migrate_env = {**env, "DATABASE_URL": f"sqlite:///{template}"}
        subprocess.run([*conversa, "migrate", "--noinput", "-v", "0"], env=migrate_env, check=True)
        # The migrating process closed its connection: the write-ahead log is folded in.
        assert not Path(f"{template}-wal").exists() or not Path(f"{template}-wal").stat().st_size
        _MIGRATED = template
    shutil.copyfile(_MIGRATED, target)


# The demo loaded once per process and settings, copied for each server, as if loaded at the
# copy's moment and for its address: loading it cost every browser module ~5 s.
_DEMOS: dict[tuple, tuple[Path, str, datetime]] = {}
DEMO_BASE = "http://127.0.0.1:1"  # the address the template is loaded for, replaced in copies


def demo_copy(target: Path, env: dict, base: str, extra_env: dict) -> str:
    """`target` becomes a database with the demo loaded for a server at `base`, its times as if
    loaded now; returns what `conversa demo` printed (the demo people's passwords)."""
    key = tuple(sorted(extra_env.items()))
    if key not in _DEMOS or not _DEMOS[key][0].exists():
        template = Path(tempfile.mkdtemp(prefix="conversa-demo-")) / "demo.sqlite3"
        atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
        migrated_copy(template, env)
        demo_env = {
            **env,
            "DATABASE_URL": f"sqlite:///{template}",
            "CONVERSA_DATA_DIR": str(template.parent),
            "CONVERSA_PUBLIC_URL": DEMO_BASE,
            "CSRF_TRUSTED_ORIGINS": DEMO_BASE,
        }
        # Open around the clock: what the pages show must not depend on the hour the suite
        # runs at (outside business hours the demo's assistant would answer the tests'
        # customers).
        demo = subprocess.run(
            [sys.executable, "-m", "conversa.cli", "demo", "--always-open"],
            env=demo_env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        _DEMOS[key] = (template, demo.stdout, datetime.now(UTC))
    template, printed, loaded_at = _DEMOS[key]
    shutil.copyfile(template, target)
    rebase(target, loaded_at, datetime.now(UTC), DEMO_BASE, base)
    return printed


def rebase(database: Path, then: datetime, now: datetime, old_base: str, new_base: str) -> None:
    """Move every stored time of `database` from `then` to `now` and its addresses from
    `old_base` to `new_base`. The Insights tables are left to their triggers: their hours are
    buckets, which the moved messages and conversations re-count (insights/triggers.py)."""
    elapsed, days = now - then, (now.date() - then.date()).days

    def later(value):
        return (datetime.fromisoformat(value) + elapsed).isoformat(" ")

    with closing(sqlite3.connect(database)) as db, db:
        db.create_function("conversa_local_hour", 2, local_hour, deterministic=True)
        db.create_function("conversa_later", 1, later, deterministic=True)
        tables = [
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            columns = db.execute("SELECT name, lower(type) FROM pragma_table_info(?)", (table,))
            for column, kind in columns.fetchall():
                update = f'UPDATE "{table}" SET "{column}" = '  # noqa: S608 (names from the schema)
                if kind == "datetime" and not table.startswith("insights_"):
                    db.execute(f'{update}conversa_later("{column}") WHERE "{column}" IS NOT NULL')
                elif kind == "date" and days:
                    db.execute(
                        f'{update}date("{column}", ?) WHERE "{column}" IS NOT NULL',
                        (f"{days:+d} days",),
                    )
                elif kind.startswith(("varchar", "text")):
                    db.execute(
                        f'{update}replace("{column}", ?, ?) WHERE instr("{column}", ?) > 0',
                        (old_base, new_base, old_base),
                    )


def stop(process) -> None:
    """End a server the test started: asked to stop, then killed if it will not."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_conversa(folder: Path, **extra_env: str):
    """`conversa serve` on a free port over a new database in `folder`, demo loaded; yields
    its address, the demo people's passwords, the owner's signed-in browser state and the
    environment (what `conversa shell` needs to reach the same database). Stopped on exit."""
    database_url = f"sqlite:///{folder / 'browser.sqlite3'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "CONVERSA_DATA_DIR": str(folder),
        "CONVERSA_PUBLIC_URL": base,
        "CSRF_TRUSTED_ORIGINS": base,
        **extra_env,
    }
    conversa = [sys.executable, "-m", "conversa.cli"]
    printed = demo_copy(folder / "browser.sqlite3", env, base, extra_env)
    # Every demo person's password: the owner's, and the operators Ana's and Bruno's.
    passwords = dict(re.findall(r"(\S+@demo\.local)\s+(\S+)", printed))
    log_path = folder / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [*conversa, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until_answering(server, base, log_path)
            yield {
                "url": base,
                "email": OWNER_EMAIL,
                "password": passwords[OWNER_EMAIL],
                "passwords": passwords,
                # The demo owner's session, for contexts that open members' pages.
                "signed_in": signed_in_state(base, OWNER_EMAIL, passwords[OWNER_EMAIL]),
                "env": env,
            }
        finally:
            stop(server)


def wait_until_answering(server: subprocess.Popen, base: str, log_path: Path, timeout=60):
    """Until /health answers; a server that exits or never answers fails with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    server.kill()
    raise AssertionError(
        f"conversa serve did not answer /health (exit {server.poll()}): {log_path.read_text()}"
    )


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
