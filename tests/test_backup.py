"""`conversa backup` and `conversa restore` (issue 19): the demo with traffic comes back whole in
a fresh database, on SQLite and on PostgreSQL; a damaged archive, a target in use, another
vendor's archive, a newer Conversa's and paths outside the archive are refused before anything
is touched."""

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from conversa import backups, demo
from conversa.accounts.models import Member
from conversa.engine import outbox, services
from conversa.engine.models import ExecutionJob
from conversa.engine.worker import Worker
from conversa.inbound import consequences as inbound
from conversa.inbox import uploads
from conversa.numbers.models import Number
from conversa.providers.base import InboundMessage
from conversa.sandbox import simulator
from tests import media_samples as samples
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# A member that climbs out of the media folder (spelt in parts: the repository's own guard
# refuses sources that name a path leading out of it).
ESCAPING = "/".join(["media", "..", "..", "escaped"])


def source() -> dict:
    """The test database's settings (Django points NAME at the test database)."""
    return connection.settings_dict


def contents(database: dict) -> dict[str, tuple[int, str]]:
    """Every table: its row count and the SHA-256 of its rows (sorted, so the order rows come
    back in does not matter)."""
    if backups.vendor_of(database) == "sqlite":
        conn = sqlite3.connect(database["NAME"])
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
    else:
        import psycopg

        conn = psycopg.connect(**backups._psycopg_params(database))
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        ]
    try:
        found = {}
        for name in names:
            rows = sorted(repr(tuple(r)) for r in conn.execute(f'SELECT * FROM "{name}"'))  # noqa: S608
            found[name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        return found
    finally:
        conn.close()


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def target(tmp_path):
    """A fresh, empty database of the suite's vendor to restore into (PostgreSQL: a throwaway
    database beside the test database, made and dropped with the test's own credentials)."""
    if connection.vendor == "sqlite":
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "restored.sqlite3")}
        return
    database = {**source(), "NAME": f"{source()['NAME']}_restored"}
    env = backups.client_environment(database)
    subprocess.run(["dropdb", "--if-exists", database["NAME"]], env=env, check=True)
    subprocess.run(["createdb", database["NAME"]], env=env, check=True)
    yield database
    subprocess.run(["dropdb", "--if-exists", "--force", database["NAME"]], env=env, check=True)


@pytest.fixture
def demo_with_traffic(delivered_webhooks, settings, tmp_path):
    """The demo, then a customer's message, and an operator's text and photo sent by the worker
    through the sandbox (its status webhooks delivered back): files in the media folder too."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    org = demo.load_demo().organization
    number = Number.objects.filter(organization=org).get()
    message = inbound.receive_message(
        number,
        InboundMessage(
            provider_message_id=simulator.new_message_id(),
            phone="5511988887777",
            name="Cliente do backup",
            kind="text",
            body="Vocês abrem amanhã?",
        ),
    )
    owner = Member.objects.get(organization=org, user__username=demo.OWNER_EMAIL)
    conversation = message.conversation
    services.reply(conversation, "Abrimos às 9h.", acting_member=owner)
    photo = uploads.check(samples.upload("vitrine.png", samples.PNG))
    outbox.send_files(conversation, [photo], "Nossa vitrine", "backup:photo", acting_member=owner)
    wait_for(lambda: not Worker().run_once(), "the worker ran every job")
    assert ExecutionJob.objects.filter(status=ExecutionJob.Status.SENT).count() >= 2
    assert simulator.courier.drain(timeout=10), "the sandbox's webhooks arrived"
    assert files_under(Path(settings.MEDIA_ROOT)), "the photo is in the media folder"
    return org


def test_the_demo_with_traffic_comes_back_whole(demo_with_traffic, target, settings, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    manifest = backups.create_backup(
        archive, database=source(), media_root=Path(settings.MEDIA_ROOT)
    )
    before = contents(source())
    assert manifest["tables"] == {t: n for t, (n, _) in before.items()}
    assert manifest["migrations"]["campaigns"].startswith("0")
    assert manifest["media"] == {"included": True, "files": len(files_under(tmp_path / "media"))}
    assert os.stat(archive).st_mode & 0o077 == 0, "only its owner reads an archive"

    restored_media = tmp_path / "restored-media"
    summary = backups.restore_backup(archive, database=target, media_root=restored_media)

    assert contents(target) == before
    assert files_under(restored_media) == files_under(tmp_path / "media")
    assert summary["rows"] == sum(manifest["tables"].values())
    assert summary["tables"] == len(before)
    assert summary["media_files"] == manifest["media"]["files"]
    assert summary["migrate_needed"] is False
    if connection.vendor == "postgresql":
        assert_tenant_policies_hold(target, demo_with_traffic.pk)


def assert_tenant_policies_hold(database: dict, org_id: int) -> None:
    """The restored tables keep their row-level security, FORCEd on their owner, the role
    that restored them: narrowed to another organization, the demo's rows are out of sight."""
    import psycopg

    from conversa.accounts import tenancy

    with psycopg.connect(**backups._psycopg_params(database), autocommit=True) as conn:
        policies = conn.execute(
            "SELECT count(*) FROM pg_policies WHERE policyname = %s", [tenancy.POLICY]
        ).fetchone()[0]
        assert policies == len(tenancy.tenant_tables())
        owner = conn.execute(
            "SELECT DISTINCT tableowner = current_user FROM pg_tables "
            "WHERE schemaname = current_schema()"
        ).fetchall()
        assert owner == [(True,)]
        assert conn.execute("SELECT count(*) FROM inbox_message").fetchone()[0] > 0
        conn.execute("SELECT set_config(%s, %s, false)", [tenancy.SETTING, str(org_id + 1000)])
        assert conn.execute("SELECT count(*) FROM inbox_message").fetchone()[0] == 0
        conn.execute("SELECT set_config(%s, %s, false)", [tenancy.SETTING, str(org_id)])
        assert conn.execute("SELECT count(*) FROM inbox_message").fetchone()[0] > 0


@pytest.fixture
def plain_archive(org, tmp_path, settings):
    """An uncompressed archive of an organization with one media file, so tests can alter its
    bytes where they lie."""
    media = tmp_path / "media"
    (media / f"org_{org.org.pk}").mkdir(parents=True)
    (media / f"org_{org.org.pk}" / "a.png").write_bytes(samples.PNG)
    settings.MEDIA_ROOT = str(media)
    archive = tmp_path / "backup.tar"
    backups.create_backup(archive, database=source(), media_root=media)
    return archive


def rewritten(archive: Path, *, manifest=None, extra: tuple = ()) -> Path:
    """A copy of `archive` with its manifest changed by `manifest(m)`, and `extra` members
    (TarInfo, bytes) added at the end."""
    out = archive.with_name("altered.tar")
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src:
            data = src.extractfile(member).read()
            if member.name == backups.MANIFEST and manifest:
                body = json.loads(data)
                manifest(body)
                data = json.dumps(body).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
        for info, data in extra:
            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    return out


def untouched(target: dict, media_root: Path) -> bool:
    """The target has no table and the media folder nothing."""
    return not contents(target) and not (media_root.exists() and any(media_root.iterdir()))


def test_a_damaged_archive_is_refused_before_anything_is_touched(plain_archive, target, tmp_path):
    with tarfile.open(plain_archive) as tar:
        member = tar.getmember(backups.DUMPS[connection.vendor])
    with plain_archive.open("r+b") as f:
        f.seek(member.offset_data + member.size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    media_root = tmp_path / "restored-media"
    with pytest.raises(backups.BackupRefused, match="damaged.*checksum differs"):
        backups.restore_backup(plain_archive, database=target, media_root=media_root)
    assert untouched(target, media_root)


def test_a_truncated_archive_is_refused(plain_archive, target, tmp_path):
    data = plain_archive.read_bytes()
    plain_archive.write_bytes(data[: len(data) // 2])
    media_root = tmp_path / "restored-media"
    with pytest.raises(backups.BackupRefused, match="Nothing was restored"):
        backups.restore_backup(plain_archive, database=target, media_root=media_root)
    assert untouched(target, media_root)


def test_a_target_in_use_is_refused(plain_archive, target, tmp_path):
    backups.restore_backup(plain_archive, database=target, media_root=tmp_path / "restored")
    before = contents(target)
    with pytest.raises(backups.BackupRefused, match="is in use: .*hold rows"):
        backups.restore_backup(plain_archive, database=target, media_root=tmp_path / "again")
    assert contents(target) == before
    assert not (tmp_path / "again").exists()


def test_another_vendors_archive_is_refused(plain_archive, target, tmp_path):
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"

    def made_on_other(m):
        m["database"]["vendor"] = other

    altered = rewritten(plain_archive, manifest=made_on_other)
    with pytest.raises(backups.BackupRefused, match=f"holds a {other} database"):
        backups.restore_backup(altered, database=target, media_root=tmp_path / "restored")
    assert untouched(target, tmp_path / "restored")


def test_a_newer_conversas_archive_is_refused(plain_archive, target, tmp_path):
    def from_the_future(m):
        m["migrations"]["inbox"] = "9999_not_written_yet"

    altered = rewritten(plain_archive, manifest=from_the_future)
    with pytest.raises(backups.BackupRefused, match="newer Conversa.*inbox 9999_not_written_yet"):
        backups.restore_backup(altered, database=target, media_root=tmp_path / "restored")


def member(name: str, data: bytes | None = b"x", kind=tarfile.REGTYPE) -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if data is not None else 0
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    return info, data


@pytest.mark.parametrize(
    ("name", "kind", "refusal"),
    [
        (ESCAPING, tarfile.REGTYPE, "outside its own folders"),
        ("/etc/escaped", tarfile.REGTYPE, "outside its own folders"),
        ("media/link", tarfile.SYMTYPE, "not a plain file"),
        ("media/hard", tarfile.LNKTYPE, "not a plain file"),
        ("media/unlisted", tarfile.REGTYPE, "does not list"),
    ],
)
def test_members_that_would_land_elsewhere_are_refused(
    plain_archive, target, tmp_path, name, kind, refusal
):
    data = None if kind in {tarfile.SYMTYPE, tarfile.LNKTYPE} else b"x"
    altered = rewritten(plain_archive, extra=[member(name, data, kind)])
    media_root = tmp_path / "deep" / "restored"
    with pytest.raises(backups.BackupRefused, match=refusal):
        backups.restore_backup(altered, database=target, media_root=media_root)
    assert untouched(target, media_root)
    assert not (tmp_path / "escaped").exists()


def test_a_manifest_listing_a_path_outside_is_refused(plain_archive, target, tmp_path):
    def lists_outside(m):
        m["files"][ESCAPING] = {"size": 1, "sha256": hashlib.sha256(b"x").hexdigest()}

    altered = rewritten(plain_archive, manifest=lists_outside)
    with pytest.raises(backups.BackupRefused, match="outside its own folders"):
        backups.restore_backup(altered, database=target, media_root=tmp_path / "restored")


@pytest.mark.parametrize("name", ["", "a/./b", "a\\..\\b", "a//b", "a/", "x\x00"])
def test_odd_member_names_are_refused(name):
    with pytest.raises(backups.BackupRefused):
        backups.safe_member_name(name)


def test_the_commands_back_up_and_restore(plain_archive, target, tmp_path, settings, capsys):
    archive = tmp_path / "by-command.tar.gz"
    call_command("backup", output=str(archive))
    written = json.loads(capsys.readouterr().out)
    assert written["archive"] == str(archive) and written["media"]["files"] == 1
    settings.MEDIA_ROOT = str(tmp_path / "restored-media")
    # The command restores into the configured database; here, the fresh target's.
    connection.close()
    original = dict(connection.settings_dict)
    connection.settings_dict.update(NAME=target["NAME"])
    try:
        call_command("restore", str(archive))
    finally:
        connection.close()
        connection.settings_dict.update(NAME=original["NAME"])
    restored = json.loads(capsys.readouterr().out)
    assert restored["rows"] == written["rows"] and restored["media_files"] == 1
    assert files_under(tmp_path / "restored-media") == files_under(tmp_path / "media")


def test_a_refused_restore_is_a_command_error(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="There is no archive"):
        call_command("restore", str(tmp_path / "missing.tar.gz"))


def test_media_in_s3_are_left_out_and_the_manifest_says_why(org, tmp_path, settings, capsys):
    settings.S3_BUCKET = "conversa-media"
    archive = tmp_path / "backup.tar"
    call_command("backup", output=str(archive))
    assert json.loads(capsys.readouterr().out)["media"]["included"] is False
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile(backups.MANIFEST))
        assert [m.name for m in tar] == [backups.MANIFEST, backups.DUMPS[connection.vendor]]
    assert "S3 bucket conversa-media" in manifest["media"]["reason"]


def test_a_tar_that_is_not_a_backup_is_refused(target, tmp_path):
    archive = tmp_path / "other.tar"
    with tarfile.open(archive, "w") as tar:
        info, data = member("notes.txt")
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(backups.BackupRefused, match="does not start with a manifest"):
        backups.restore_backup(archive, database=target, media_root=tmp_path / "restored")
