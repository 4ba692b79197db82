"""The `conversa` command: Django's management commands plus serve, worker, sandbox, demo."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings")
    from django.core.management import execute_from_command_line

    # Commands are spelt with hyphens on the command line (`conversa reprocess-events`);
    # Django's modules cannot be.
    argv = list(sys.argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
