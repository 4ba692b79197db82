"""Processes that race from one start: each sets itself up, prints "ready" and reads a line;
the test writes that line to all of them once every one is ready, however long a loaded
machine takes to get them there."""

import subprocess
import sys


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A racing process, with its standard input and output for the start and its answer."""
    return subprocess.Popen(
        [sys.executable, *args], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def release(processes: list[subprocess.Popen]) -> None:
    """Wait until every process is ready, then let them all go."""
    for process in processes:
        assert process.stdout.readline() == "ready\n", "a racing process ended before its start"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
