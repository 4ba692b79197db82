import json
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from conversa import backups


class Command(BaseCommand):
    help = (
        "Write the database and the media files to one archive (a manifest with every file's "
        "SHA-256 and every table's row count first); safe while Conversa runs. Prints the "
        "manifest's summary as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            help="the archive to write: .tar, or .tar.gz to gzip it whole (smaller, slower: "
            "media files are compressed already); default conversa-backup-<UTC time>.tar in the "
            "current folder",
        )

    def handle(self, *args, output: str | None = None, **options):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        destination = Path(output or f"conversa-backup-{stamp}.tar")
        if settings.S3_BUCKET:
            media_root, left_out = (
                None,
                (
                    f"media are kept in the S3 bucket {settings.S3_BUCKET}, not on this machine: "
                    "back the bucket up with its own tools (versioning, replication)"
                ),
            )
        else:
            media_root, left_out = Path(settings.MEDIA_ROOT), ""
        started = datetime.now(UTC)
        try:
            manifest = backups.create_backup(
                destination,
                database=connections["default"].settings_dict,
                media_root=media_root,
                media_left_out=left_out,
            )
        except backups.BackupRefused as exc:
            raise CommandError(str(exc)) from exc
        summary = {
            "archive": str(destination.resolve()),
            "bytes": destination.stat().st_size,
            "vendor": manifest["database"]["vendor"],
            "tables": len(manifest["tables"]),
            "rows": sum(manifest["tables"].values()),
            "media": manifest["media"],
            "seconds": round((datetime.now(UTC) - started).total_seconds(), 3),
        }
        self.stdout.write(json.dumps(summary, sort_keys=True))
