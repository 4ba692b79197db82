"""Real processes for the engine's concurrency tests: a sandbox server and workers, all on the
test database, driven from the test. PostgreSQL only: that is where several processes write at
once in production."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.db import connection
from django.db.models import Count

from bench.jobs import pending_jobs  # noqa: F401 (the tests import it from here)
from conversa.providers.models import SandboxMessage

CONVERSA = [sys.executable, "-m", "conversa.cli"]
LOGS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


def database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or ""
    auth = f"{user}@" if user else ""
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A sandbox server and any number of worker processes over the test database."""

    def __init__(self, **env):
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "SANDBOX_URL": f"http://127.0.0.1:{self.port}/sandbox/evolution",
            "WORKER_POLL_SECONDS": "0.1",
            "WORKER_LEASE_SECONDS": "3",
            "PROVIDER_TIMEOUT_SECONDS": "1",
            "SANDBOX_HANG_SECONDS": "2",
            "RETRY_BASE_SECONDS": "0.1",
            "ECHO_GRACE_SECONDS": "1",
            "BREAKER_HOLD_SECONDS": "1",
            "REDIS_URL": "",
            **env,
        }
        self.processes: list[subprocess.Popen] = []
        LOGS.mkdir(parents=True, exist_ok=True)
        self.sandbox = self.spawn("sandbox", "--port", str(self.port))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/sandbox/", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the sandbox did not start")

    def spawn(self, *args: str) -> subprocess.Popen:
        log = open(LOGS / f"cluster-{args[0]}-{len(self.processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [*CONVERSA, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def worker(self, batch_size: int = 10) -> subprocess.Popen:
        return self.spawn("worker", "--batch-size", str(batch_size))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def ledger_duplicates() -> int:
    """Sends the sandbox accepted more than once for one job reference."""
    return (
        SandboxMessage.objects.filter(from_me=True)
        .values("reference")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
