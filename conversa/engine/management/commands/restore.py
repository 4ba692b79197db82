import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from conversa import backups


class Command(BaseCommand):
    help = (
        "Load an archive made by `conversa backup` into the empty database of DATABASE_URL and "
        "its media files into the media folder. Every checksum is verified before anything is "
        "written; a database holding rows is refused. Stop Conversa's processes first. Prints a "
        "JSON summary."
    )
    # The target may be empty, not even migrated: nothing may read it before the restore.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("archive", help="the .tar.gz or .tar file `conversa backup` wrote")

    def handle(self, *args, archive: str, **options):
        connections.close_all()
        try:
            summary = backups.restore_backup(
                Path(archive),
                database=connections["default"].settings_dict,
                media_root=Path(settings.MEDIA_ROOT),
            )
        except backups.BackupRefused as exc:
            raise CommandError(str(exc)) from exc
        if summary["media_files"] and settings.S3_BUCKET:
            summary["note"] = (
                f"media files were put in {settings.MEDIA_ROOT}; copy them to the S3 bucket "
                f"{settings.S3_BUCKET}"
            )
        if summary["migrate_needed"]:
            summary["next"] = "conversa migrate"
        self.stdout.write(json.dumps(summary, sort_keys=True))
