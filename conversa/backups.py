"""Backups: the database and the media files in one archive, and back into an empty database.

An archive is a tar file (gzip-compressed when its name ends in `.gz` or `.tgz`) whose first
member is `manifest.json`: the format, Conversa's version, when it was made, the database's
vendor, each app's latest applied migration, every table's row count, and each other member's
size and SHA-256. Then the database (`database.sqlite3`, a copy made with SQLite's online backup
API, or `database.pgdump`, `pg_dump --format=custom`) and the media files under `media/`.

Both database copies are consistent while the app keeps writing: SQLite's backup runs in one
step under one read transaction (WAL lets writers go on meanwhile), and pg_dump works in a
snapshot that the row counts are read in too (`pg_export_snapshot`), so the manifest describes
exactly the rows the dump holds.

A restore reads the manifest first, refuses an archive that does not fit (another vendor, a
newer Conversa's migrations, a member path that would land outside its folder, a link, a size
that differs or does not fit on the disk) and a target database already in use, then unpacks
into a staging folder checking every checksum; only when every member is whole does it touch
the target. The credentials of PostgreSQL's client programs go in their environment, never on
their command line.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from django.db.migrations.loader import MigrationLoader

FORMAT = 1
MANIFEST = "manifest.json"
MEDIA = "media"
DUMPS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# What `migrate` writes into a brand-new database: a target holding rows only here is empty.
BOOKKEEPING = {"django_migrations", "django_content_type", "auth_permission"}
# Bounds on what an archive may ask of a restore, before a byte of it is written anywhere.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 2_000_000
CHUNK = 1024 * 1024
GZIP_LEVEL = 6


class BackupRefused(Exception):
    """The backup or restore cannot go on; the message says why, for the person running it."""


def vendor_of(database: dict) -> str:
    """'sqlite' or 'postgresql', from a Django database settings dict."""
    engine = database["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith("postgresql"):
        return "postgresql"
    raise BackupRefused(f"Backups know SQLite and PostgreSQL, not {engine}.")


# --- backup -------------------------------------------------------------------------------


def create_backup(
    destination: Path, *, database: dict, media_root: Path | None, media_left_out: str = ""
) -> dict[str, Any]:
    """Write `database` and the files under `media_root` to the archive `destination`; return
    its manifest. `media_root` None leaves the media out, for the reason `media_left_out`
    (files kept in S3 are backed up with the bucket's own tools).

    1. The database is copied into a staging folder beside `destination` (one consistent
       snapshot) and its row counts and migrations are read from that same snapshot.
    2. Every media file is measured and hashed, and the manifest written first in the archive.
    3. The dump and each file follow, hashed again as they are written: a file that changed
       meanwhile fails the backup rather than leave an archive its manifest does not describe.
    4. The archive is written as `<name>.partial` (readable by its owner only: it holds every
       conversation) and renamed when whole, so a failed backup leaves no plausible archive.
    """
    vendor = vendor_of(database)
    destination = Path(destination).resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists():
        raise BackupRefused(f"{destination} exists already: choose another name.")
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".conversa-backup-") as tmp:
        dump = Path(tmp) / DUMPS[vendor]
        if vendor == "sqlite":
            facts = _sqlite_snapshot(Path(database["NAME"]), dump)
        else:
            facts = _postgres_dump(database, dump, compress=not _gzipped(destination))
        files = {DUMPS[vendor]: _measure(dump)}
        sources = {DUMPS[vendor]: dump}
        if media_root is not None:
            for name, path in _media_files(Path(media_root)):
                files[name] = _measure(path)
                sources[name] = path
        manifest = {
            "format": FORMAT,
            "conversa_version": metadata.version("conversa"),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": {"vendor": vendor, "file": DUMPS[vendor], **facts["server"]},
            "migrations": facts["migrations"],
            "tables": facts["tables"],
            "media": (
                {"included": True, "files": len(files) - 1}
                if media_root is not None
                else {"included": False, "reason": media_left_out}
            ),
            "files": files,
        }
        partial = destination.with_name(destination.name + ".partial")
        try:
            _write_archive(partial, manifest, sources)
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)
    return manifest


def _sqlite_snapshot(source: Path, target: Path) -> dict[str, Any]:
    if not source.is_file():
        raise BackupRefused(f"There is no SQLite database at {source}.")
    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        # All pages in one step: one read transaction, so the copy is one moment of the
        # database (a step-by-step copy starts over whenever another connection writes).
        src.backup(dst, pages=-1)
    finally:
        src.close()
        dst.close()
    with _sqlite(target) as conn:
        tables = _sqlite_tables(conn)
        return {
            "server": {"server_version": sqlite3.sqlite_version},
            "tables": {t: _count(conn, _sqlite_quote(t)) for t in tables},
            "migrations": _latest_migrations(conn, "django_migrations" in tables),
        }


def _postgres_dump(database: dict, target: Path, *, compress: bool) -> dict[str, Any]:
    import psycopg

    tool = _tool("pg_dump")
    with psycopg.connect(**_psycopg_params(database)) as conn:
        # The snapshot pg_dump dumps, held open by this transaction while it runs, so the row
        # counts read here are those of the dump whatever the app writes meanwhile.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        tables = _postgres_tables(conn)
        facts = {
            "server": {"server_version": conn.execute("SHOW server_version").fetchone()[0]},
            "tables": {t: _count(conn, _pg_quote(t)) for t in tables},
            "migrations": _latest_migrations(conn, "django_migrations" in tables),
        }
        # The policies are FORCEd on the owner too: with row security off (pg_dump's default)
        # the owner's read would be refused; on, the unset organization setting sees every row.
        # Compressed once: by pg_dump in a plain tar, by the archive in a gzipped one.
        _run(
            [
                tool,
                "--format=custom",
                f"--compress={6 if compress else 0}",
                "--enable-row-security",
                f"--snapshot={snapshot}",
                f"--file={target}",
            ],
            database,
            "pg_dump",
        )
        conn.rollback()
    return facts


def _media_files(root: Path) -> Iterator[tuple[str, Path]]:
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            # Only regular files of the media folder itself: a link could point anywhere.
            if path.is_symlink() or not path.is_file():
                continue
            yield f"{MEDIA}/{path.relative_to(root).as_posix()}", path


def _measure(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


class _Hashing:
    """A file read through SHA-256, as tarfile copies it into the archive."""

    def __init__(self, f):
        self.f = f
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        chunk = self.f.read(n)
        self.digest.update(chunk)
        return chunk


def _write_archive(path: Path, manifest: dict, sources: dict[str, Path]) -> None:
    compressed = _gzipped(Path(path.name.removesuffix(".partial")))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with (
        os.fdopen(fd, "wb") as raw,
        tarfile.open(
            fileobj=raw,
            mode="w:gz" if compressed else "w",
            format=tarfile.PAX_FORMAT,
            **({"compresslevel": GZIP_LEVEL} if compressed else {}),
        ) as tar,
    ):
        body = json.dumps(manifest, indent=2, sort_keys=True).encode()
        info = _member(MANIFEST, len(body))
        tar.addfile(info, _Bytes(body))
        for name, source in sources.items():
            expected = manifest["files"][name]
            try:
                with source.open("rb") as f:
                    reader = _Hashing(f)
                    tar.addfile(_member(name, expected["size"]), reader)
                    grew = bool(f.read(1))
            except (OSError, tarfile.TarError) as exc:
                raise BackupRefused(
                    f"{name} changed or vanished during the backup ({exc}); run it again."
                ) from exc
            if grew or reader.digest.hexdigest() != expected["sha256"]:
                raise BackupRefused(f"{name} changed during the backup; run it again.")


def _gzipped(path: Path) -> bool:
    return path.name.endswith((".gz", ".tgz"))


class _Bytes:
    def __init__(self, data: bytes):
        self.data = memoryview(data)

    def read(self, n: int = -1) -> bytes:
        n = len(self.data) if n < 0 else n
        chunk, self.data = self.data[:n], self.data[n:]
        return bytes(chunk)


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(time.time())
    return info


# --- restore ------------------------------------------------------------------------------


def restore_backup(archive: Path, *, database: dict, media_root: Path) -> dict[str, Any]:
    """Load the archive into `database`, which must be empty, and its media into `media_root`;
    return a summary: tables, rows, media files, seconds, and whether `migrate` is due.

    1. The manifest (the first member) must fit: this format, this vendor, migrations this
       version of Conversa knows, safe member paths, sizes that fit on the disk.
    2. The target must hold no rows but `migrate`'s own bookkeeping.
    3. Every member is unpacked into a staging folder and its SHA-256 checked; a damaged
       archive is refused there, before the target is touched.
    4. The database is put in place (SQLite: the file; PostgreSQL: pg_restore in one
       transaction, objects owned by the connecting role), then the media files.
    5. Every table's rows are counted and compared with the manifest.
    """
    started = time.monotonic()
    vendor = vendor_of(database)
    archive = Path(archive)
    if not archive.is_file():
        raise BackupRefused(f"There is no archive at {archive}.")
    media_root = Path(media_root)
    if vendor == "sqlite":
        target = Path(database["NAME"])
        if str(target) == ":memory:":
            raise BackupRefused("An in-memory SQLite database cannot be restored into.")
        staging_parent = target.resolve().parent
    else:
        staging_parent = media_root.resolve().parent
    staging_parent.mkdir(parents=True, exist_ok=True)

    def fits(manifest: dict) -> None:
        _check_manifest(manifest, vendor)
        _refuse_in_use(vendor, database)
        needed = sum(f["size"] for f in manifest["files"].values())
        free = shutil.disk_usage(staging_parent).free
        if needed > free:
            raise BackupRefused(
                f"The archive unpacks to {needed // 2**20} MB; {staging_parent} has "
                f"{free // 2**20} MB free."
            )

    with tempfile.TemporaryDirectory(dir=staging_parent, prefix=".conversa-restore-") as tmp:
        staging = Path(tmp)
        manifest = _unpack(archive, staging, fits)
        dump = staging / DUMPS[vendor]
        if vendor == "sqlite":
            _sqlite_load(dump, target)
        else:
            _postgres_load(dump, database)
        media = sorted(n for n in manifest["files"] if n.startswith(f"{MEDIA}/"))
        for name in media:
            destination = media_root / PurePosixPath(name).relative_to(MEDIA)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staging / name, destination)
    counts = _counts(vendor, database, list(manifest["tables"]))
    differ = {t: (n, counts.get(t)) for t, n in manifest["tables"].items() if counts.get(t) != n}
    if differ:
        described = ", ".join(
            f"{t}: {got} rows, {want} expected" for t, (want, got) in differ.items()
        )
        raise BackupRefused(
            f"The restored database differs from the archive's manifest: {described}."
        )
    return {
        "archive": str(archive),
        "created_at": manifest["created_at"],
        "vendor": vendor,
        "tables": len(counts),
        "rows": sum(counts.values()),
        "media_files": len(media),
        "media_included": manifest["media"]["included"],
        "migrate_needed": _migrate_needed(manifest["migrations"]),
        "seconds": round(time.monotonic() - started, 3),
    }


def safe_member_name(name: str) -> PurePosixPath:
    """The member's path, if it stays inside the folder it is unpacked into; else refused."""
    path = PurePosixPath(name)
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or path.is_absolute()
        or any(part in {"..", "."} for part in path.parts)
        or str(path) != name
    ):
        raise BackupRefused(
            f"The archive names a file outside its own folders ({name!r}): refused."
        )
    return path


def _check_manifest(manifest: Any, vendor: str) -> None:
    try:
        files = manifest["files"]
        tables = manifest["tables"]
        made_on = manifest["database"]["vendor"]
        fmt = manifest["format"]
        migrations = manifest["migrations"]
        manifest["media"]["included"]
        manifest["created_at"]
    except (KeyError, TypeError) as exc:
        raise BackupRefused(f"The archive's manifest lacks {exc}: not a Conversa backup.") from exc
    if fmt != FORMAT:
        raise BackupRefused(f"The archive is of format {fmt}; this Conversa reads format {FORMAT}.")
    if made_on != vendor:
        raise BackupRefused(
            f"The archive holds a {made_on} database and this Conversa uses {vendor}: restore "
            f"it into a {made_on} database (or move the data with `dumpdata`/`loaddata`)."
        )
    if not isinstance(files, dict) or len(files) > MAX_MEMBERS or DUMPS[vendor] not in files:
        raise BackupRefused("The archive's manifest lists no database, or too many files.")
    for name, facts in files.items():
        path = safe_member_name(name)
        if name != DUMPS[vendor] and path.parts[0] != MEDIA:
            raise BackupRefused(f"The archive holds {name!r}, which a backup never does: refused.")
        if not (
            isinstance(facts, dict)
            and isinstance(facts.get("size"), int)
            and facts["size"] >= 0
            and isinstance(facts.get("sha256"), str)
        ):
            raise BackupRefused(f"The archive's manifest describes {name!r} wrongly.")
    if not isinstance(migrations, dict):
        raise BackupRefused("The archive's manifest lists its migrations wrongly.")
    if not isinstance(tables, dict) or not all(
        isinstance(n, int) and n >= 0 for n in tables.values()
    ):
        raise BackupRefused("The archive's manifest counts its tables' rows wrongly.")
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    unknown = sorted(
        f"{app} {name}" for app, name in migrations.items() if (app, name) not in known
    )
    if unknown:
        raise BackupRefused(
            "The archive was made by a newer Conversa (migrations this version lacks: "
            f"{', '.join(unknown)}): restore it with that version or a later one."
        )


def _unpack(archive: Path, staging: Path, fits: Callable[[dict], None]) -> dict:
    """The manifest, once `fits` accepted it and every member it lists is in `staging`, whole."""
    try:
        with tarfile.open(archive, "r|*") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isreg():
                raise BackupRefused(
                    f"{archive} does not start with a manifest: not a Conversa backup."
                )
            if first.size > MAX_MANIFEST_BYTES:
                raise BackupRefused("The archive's manifest is too large: refused.")
            try:
                manifest = json.loads(tar.extractfile(first).read())
            except ValueError as exc:
                raise BackupRefused(f"The archive's manifest is damaged ({exc}).") from exc
            fits(manifest)
            files = manifest["files"]
            seen: set[str] = set()
            for member in tar:
                if member is first:
                    # Iterating yields the members already read too.
                    continue
                path = safe_member_name(member.name)
                if not member.isreg():
                    raise BackupRefused(
                        f"The archive holds {member.name!r}, which is not a plain file (a link "
                        "or a device): refused."
                    )
                expected = files.get(member.name)
                if expected is None or member.name in seen:
                    raise BackupRefused(
                        f"The archive holds {member.name!r}, which its manifest does not list once."
                    )
                if member.size != expected["size"]:
                    raise BackupRefused(f"{member.name} is not the size its manifest says.")
                seen.add(member.name)
                destination = staging.joinpath(*path.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with tar.extractfile(member) as src, destination.open("xb") as dst:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
                if digest.hexdigest() != expected["sha256"]:
                    raise BackupRefused(
                        f"The archive is damaged: {member.name}'s checksum differs from its "
                        "manifest's. Nothing was restored."
                    )
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise BackupRefused(f"The archive cannot be read ({exc}). Nothing was restored.") from exc
    missing = sorted(set(files) - seen)
    if missing:
        raise BackupRefused(
            f"The archive is incomplete: {', '.join(missing[:5])} missing. Nothing was restored."
        )
    return manifest


def _refuse_in_use(vendor: str, database: dict) -> None:
    if vendor == "sqlite":
        target = Path(database["NAME"])
        if not target.exists():
            return
        with _sqlite(target) as conn:
            used = [t for t in _sqlite_tables(conn) if _has_rows(conn, _sqlite_quote(t))]
    else:
        import psycopg

        try:
            conn = psycopg.connect(**_psycopg_params(database), autocommit=True)
        except psycopg.OperationalError as exc:
            raise BackupRefused(
                f"Cannot connect to the target database {database['NAME']} ({exc}); create it "
                "empty first (createdb)."
            ) from exc
        with conn:
            used = [t for t in _postgres_tables(conn) if _has_rows(conn, _pg_quote(t))]
    used = sorted(set(used) - BOOKKEEPING)
    if used:
        raise BackupRefused(
            f"The target database {database['NAME']} is in use: {', '.join(used[:5])} "
            f"{'and more ' if len(used) > 5 else ''}hold rows. Restore into an empty database "
            "(a new file, or `createdb`), never over one in use."
        )


def _sqlite_load(dump: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # A write-ahead log left beside the old file would be replayed into the new one.
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(dump, target)


def _postgres_load(dump: Path, database: dict) -> None:
    import psycopg

    with psycopg.connect(**_psycopg_params(database), autocommit=True) as conn:
        role = conn.execute("SELECT current_user").fetchone()[0]
    # One transaction: a failure leaves the target as it was. --clean drops what a `migrate`
    # made in the empty target. Row security is enabled after the data (pg_dump's order), so
    # the rows go in whole, and its policies come back as they were.
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            f"--role={role}",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={database['NAME']}",
            str(dump),
        ],
        database,
        "pg_restore",
    )


def _counts(vendor: str, database: dict, tables: list[str]) -> dict[str, int]:
    if vendor == "sqlite":
        with _sqlite(Path(database["NAME"])) as conn:
            present = set(_sqlite_tables(conn))
            return {t: _count(conn, _sqlite_quote(t)) for t in tables if t in present}
    import psycopg

    with psycopg.connect(**_psycopg_params(database), autocommit=True) as conn:
        present = set(_postgres_tables(conn))
        return {t: _count(conn, _pg_quote(t)) for t in tables if t in present}


def _migrate_needed(migrations: dict[str, str]) -> bool:
    leaves = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes()
    return any(migrations.get(app) != name for app, name in leaves)


# --- the databases ------------------------------------------------------------------------


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


def _sqlite_tables(conn) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    return [r[0] for r in rows]


def _postgres_tables(conn) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    )
    return [r[0] for r in rows]


def _sqlite_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _count(conn, quoted: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0]  # noqa: S608 (quoted)


def _has_rows(conn, quoted: str) -> bool:
    return conn.execute(f"SELECT 1 FROM {quoted} LIMIT 1").fetchone() is not None  # noqa: S608


def _latest_migrations(conn, present: bool) -> dict[str, str]:
    latest: dict[str, str] = {}
    if present:
        for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY id"):
            latest[app] = name
    return latest


def _psycopg_params(database: dict) -> dict[str, Any]:
    params = {
        "dbname": database["NAME"],
        "user": database.get("USER") or None,
        "password": database.get("PASSWORD") or None,
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
    }
    sslmode = (database.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        params["sslmode"] = sslmode
    return {k: v for k, v in params.items() if v is not None}


def client_environment(database: dict) -> dict[str, str]:
    """The connection for PostgreSQL's client programs: in their environment, where no process
    list or log shows the password, and never on their command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    names = {"dbname": "PGDATABASE", "user": "PGUSER", "password": "PGPASSWORD"}
    names |= {"host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE"}
    for key, value in _psycopg_params(database).items():
        env[names[key]] = str(value)
    return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupRefused(
            f"{name} is not installed: install PostgreSQL's client programs (Debian and "
            "Ubuntu: apt-get install postgresql-client), of the server's major version or newer."
        )
    return path


def _run(args: list[str], database: dict, what: str) -> None:
    done = subprocess.run(  # noqa: S603 (our own arguments, no shell)
        args, env=client_environment(database), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupRefused(f"{what} failed: {done.stderr.strip()[-2000:]}")
