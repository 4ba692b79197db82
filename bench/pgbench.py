"""The database's own commit rate, measured beside a benchmark in the same run.

Absolute figures on a shared machine move by a factor of two from day to day; a ratio of two
figures measured minutes apart does not. `pgbench -N` (simple updates, no branch contention)
with 4 clients is the reference the ingest figure is held against.
"""

import re
import shutil
import subprocess

from django.db import connection

TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")


def commit_rate(seconds: int = 15, clients: int = 4) -> float | None:
    """pgbench's transactions per second against the current PostgreSQL server, in a scratch
    database made and dropped here; None on SQLite or where pgbench is missing."""
    pgbench = shutil.which("pgbench")
    if connection.vendor != "postgresql" or pgbench is None:
        return None
    s = connection.settings_dict
    where = ["-h", s.get("HOST") or "127.0.0.1", "-p", str(s.get("PORT") or 5432)]
    where += ["-U", s.get("USER") or "postgres"]
    scratch = "conversa_pgbench"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        cursor.execute(f'CREATE DATABASE "{scratch}"')
    try:
        subprocess.run(
            [pgbench, *where, "-i", "-q", "-s", "1", scratch],
            check=True,
            capture_output=True,
        )
        ran = subprocess.run(
            [pgbench, *where, "-N", "-c", str(clients), "-j", "2", "-T", str(seconds), scratch],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
    found = TPS.search(ran.stdout)
    return float(found.group(1)) if found else None
