"""Real processes for the engine's concurrency tests and the chaos benchmark: a sandbox server
and workers over the current database, driven and measured from the caller."""

import http.client
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.db import connection
from django.db.models import Count

from conversa.sandbox.models import SandboxInstance, SandboxMessage

CONVERSA = [sys.executable, "-m", "conversa.cli"]
LOGS = Path(os.environ.get("CONVERSA_LOGS", "var/test-artifacts"))


def database_url() -> str:
    """The URL of the database this process uses (the test database, in tests)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
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

    def worker(self, batch_size: int = 10, concurrency: int = 4) -> subprocess.Popen:
        return self.spawn(
            "worker", "--batch-size", str(batch_size), "--concurrency", str(concurrency)
        )

    def kill_oldest(self, running: list[subprocess.Popen]) -> None:
        """SIGKILL the oldest of `running` (no chance to tidy up) and start a worker in its
        place, at the end of the list."""
        victim = running.pop(0)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        running.append(self.worker())

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


def ledger_duplicates(twin: SandboxInstance | None = None) -> int:
    """Sends the sandbox accepted more than once for one job reference (on `twin`, or any)."""
    ledger = SandboxMessage.objects.filter(from_me=True)
    return (
        (ledger.filter(instance=twin) if twin else ledger)
        .values("reference")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )


@contextmanager
def web_server(name: str, processes: int = 1, worker: bool = False, **env: str):
    """A `conversa serve --no-worker` on a free port over this process's database, answering
    /health; yields (process, port). Its output goes to LOGS/<name>.log. `worker`: the embedded
    server instead, with its in-process worker, whose sandbox and simulated model are its own
    (their addresses derived from its port, whatever this process's environment says)."""
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.log", "w")  # noqa: SIM115 (closed below)
    environment = {**os.environ, "DATABASE_URL": database_url(), **env}
    if worker:
        for own in ("CONVERSA_PUBLIC_URL", "SANDBOX_URL"):
            environment.pop(own, None)
    process = subprocess.Popen(
        [
            *(*CONVERSA, "serve", "--port", str(port), "--processes", str(processes)),
            *(() if worker else ("--no-worker",)),
        ],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: answers_health(process, port), 60, "conversa serve to answer")
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def answers_health(process: subprocess.Popen, port: int) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"conversa serve exited with {process.returncode}; see {LOGS}")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """Each live process's CPU time so far (user and system), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    return used


def database_pids() -> list[int]:
    """The PostgreSQL backends serving this database, but for this process's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def machine_probe_ms() -> float:
    """How long this machine takes for a fixed piece of pure Python work, now (the best of
    five): the same code's latencies move with it from run to run on a shared machine."""
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for n in range(300_000):
            total += n % 7
        timings.append(time.perf_counter() - started)
    return round(min(timings) * 1000, 1)
