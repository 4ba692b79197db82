"""The repository stands alone: a fresh clone, with nothing beside it, runs its whole suite.

Two guards. One reads the tracked sources for paths that lead out of the repository (a sibling
folder, a developer's machine). The other watches every file the suite opens (the `open` audit
event, in tests/conftest.py) and fails the test that opens one beside the repository.
"""

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY, opened_outside

# A sibling folder reached by a relative path, a parent of the repository reached through
# Path.parents, or a home or work folder of someone's machine.
OUTSIDE = re.compile(
    r"\.\./(?!\.)[A-Za-z_]|parents\[\d+\]\.parent|/work/|/home/[a-z]|/root/|/Users/[A-Za-z]"
)
CHECKED = ("*.py", "*.html", "*.js", "*.css", "*.md", "*.sh", "*.toml", "Makefile", ".ci/*")


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--", *CHECKED],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [REPOSITORY / name for name in listed if not name.startswith("tests/fixtures/")]


def test_no_source_names_a_path_outside_the_repository():
    this_file = Path(__file__).resolve()
    found = [
        f"{path.relative_to(REPOSITORY)}:{number}: {line.strip()}"
        for path in tracked_files()
        if path.resolve() != this_file and path.exists()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []


def test_opening_a_file_beside_the_repository_fails_the_test(tmp_path):
    if REPOSITORY.parent == Path("/"):
        pytest.skip("a repository at the root has no folder beside it to guard")
    beside = REPOSITORY.parent / "shared-by-someone" / "payload.json"
    with pytest.raises(PermissionError, match="outside the repository"):
        beside.open()
    assert opened_outside(REPOSITORY / "pyproject.toml") is False
    assert opened_outside(tmp_path / "x") is False
