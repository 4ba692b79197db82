"""Bulk writes the ORM does not express well."""

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Field
from django.db.models.expressions import RawSQL

M = TypeVar("M", bound=models.Model)


def set_column(model: type[models.Model], field: str, values: dict[int, str]) -> int:
    """Set `field` of each row `pk` to `values[pk]` in one statement. Returns the row count.
    A JSON field takes its values as JSON text.

    An UPDATE … FROM (VALUES …) (PostgreSQL, and SQLite since 3.33): the ORM's alternative, a
    CASE with one branch per row, costs more to build in Python than the whole update costs in
    the database once a batch has a few hundred rows.
    """
    if not values:
        return 0
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    target = model._meta.get_field(field)
    column = quote(target.column)
    # VALUES of text parameters: PostgreSQL needs a JSON column's text cast to jsonb.
    cast = (
        "::jsonb"
        if isinstance(target, models.JSONField) and connection.vendor == "postgresql"
        else ""
    )
    pk = quote(model._meta.pk.column)
    rows = ", ".join(["(%s, %s)"] * len(values))
    params = [item for pair in values.items() for item in pair]
    # VALUES names its columns column1, column2 on both databases. Only quoted names from the
    # model's meta are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {column} = v.column2{cast} FROM (VALUES {rows}) AS v "  # noqa: S608
        f"WHERE {table}.{pk} = v.column1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def insert_new(objs: list[models.Model], unique: list[str]) -> list[models.Model]:
    """Insert, in one statement, each row no row with the same `unique` fields holds yet;
    return the rows inserted, their primary keys set. The caller passes no two rows with the
    same `unique` values.

    INSERT … ON CONFLICT DO NOTHING RETURNING (PostgreSQL, and SQLite since 3.35): unlike
    `bulk_create(ignore_conflicts=True)` it tells which rows went in, and unlike a SELECT
    before the insert it holds when another transaction inserts the same key at the same
    moment (the insert waits for that transaction and then skips the row). The rows go as
    `insert_rows`' one JSON text: a webhook batch's events carry a dozen values each.
    """
    if not objs:
        return []
    model = type(objs[0])
    keys = [model._meta.get_field(name).attname for name in unique]
    inserted = {
        tuple(found[1:]): found[0]
        for found in insert_rows(
            model, rows_of(objs), unique=unique, returning=(model._meta.pk.attname, *keys)
        )
    }
    new, alias = [], current().alias
    for obj in objs:
        pk = inserted.get(tuple(getattr(obj, key) for key in keys))
        if pk is not None:
            adopt_key(obj, pk, alias)
            new.append(obj)
    return new


def insert_rows(
    model: type[models.Model],
    rows: list[dict],
    *,
    unique: list[str] | None = None,
    adopt: str | None = None,
    returning: tuple[str, ...] = ("id",),
) -> list[tuple]:
    """Insert `rows` (field attname → value; every row the same fields) in one statement whose
    parameter is the rows as one JSON text; the `returning` columns of the rows inserted,
    in the rows' order. With `unique` (fields of a unique constraint), a row whose values are
    already held is skipped (ON CONFLICT DO NOTHING), as `insert_new` does; with `adopt` too
    (a nullable field), a held row in which it is null takes the new row's values when the new
    row's is not null (DO UPDATE … WHERE), and is returned with those inserted.

    For batches of thousands: psycopg quotes every parameter into the statement in Python,
    which costs more than the insert itself once a batch has tens of thousands of values (and
    a bulk_create builds a model instance per row on top). PostgreSQL reads the JSON with
    json_populate_recordset, typed by the table itself (read as it is parsed: jsonb's
    conversion of the whole document first made a campaign start's inserts an eighth
    slower); SQLite with json_each. Values are Python's: datetimes, numbers, text, booleans,
    and a JSON field's object, list or None (not a bare string: SQLite's json_extract would
    give it back unquoted).
    """
    if not rows:
        return []
    meta = model._meta
    db = current()
    quote = db.ops.quote_name
    names = list(rows[0])
    fields = [meta.get_field(name) for name in names]
    columns = [field.column for field in fields]
    postgres = db.vendor == "postgresql"
    # json_populate_recordset matches the JSON's keys to column names.
    if postgres and columns != names:
        pairs = list(zip(columns, names, strict=True))
        rows = [{column: row[name] for column, name in pairs} for row in rows]
        names = columns

    texts: dict[datetime, str] = {}

    def plain(value):
        # Only what JSON has no type for comes here: datetimes, as each database reads them,
        # each written once (a batch's rows share their "now").
        if isinstance(value, datetime):
            text = texts.get(value)
            if text is None:
                text = texts[value] = (
                    value.isoformat() if postgres else db.ops.adapt_datetimefield_value(value)
                )
            return text
        raise TypeError(f"{type(value).__name__} is not a column value")

    table = quote(meta.db_table)
    target = ", ".join(quote(column) for column in columns)
    picked, params = [], []
    if postgres:
        # A JSON field's value that many rows share (the Gate's facts, one object per distinct
        # snapshot) is sent once: the rows carry its index in a JSON array of the distinct
        # values. PostgreSQL turns each row's nested object into jsonb at several times the
        # cost of the rest of the row.
        for name, column, field in zip(names, columns, fields, strict=True):
            if not isinstance(field, models.JSONField):
                picked.append(f"r.{quote(column)}")
                continue
            index: dict[int, int] = {}
            distinct = []
            for row in rows:
                value = row[name]
                if value is not None and id(value) not in index:
                    index[id(value)] = len(distinct)
                    distinct.append(value)
            rows = [
                {**row, name: None if row[name] is None else index[id(row[name])]} for row in rows
            ]
            picked.append(f"(%s::jsonb -> (r.{quote(column)})::int)")
            params.append(json.dumps(distinct, separators=(",", ":"), cls=field.encoder))
    else:
        # What a JSON field's own encoder writes (DjangoJSONEncoder's datetimes), as saving
        # would: the rows' JSON below has only `plain` for what JSON has no type for.
        for name, field in zip(names, fields, strict=True):
            if isinstance(field, models.JSONField) and field.encoder is not None:
                rows = [
                    {**row, name: json.loads(json.dumps(row[name], cls=field.encoder))}
                    for row in rows
                ]
    payload = json.dumps(rows, separators=(",", ":"), default=plain)
    params.append(payload)
    if postgres:
        source = (
            f"SELECT {', '.join(picked)} "  # noqa: S608
            f"FROM json_populate_recordset(NULL::{table}, %s::json) "
            "WITH ORDINALITY AS r ORDER BY r.ordinality"
        )
    else:
        # A JSON field's object comes out of json_extract as its JSON text, as SQLite keeps
        # it. WHERE true: SQLite's grammar needs a WHERE before an upsert's ON CONFLICT.
        picked = ", ".join(f"json_extract(value, '$.{name}')" for name in names)
        source = f"SELECT {picked} FROM json_each(%s) WHERE true ORDER BY key"  # noqa: S608
    conflict = ""
    if unique:
        conflict = " ON CONFLICT ({}) DO NOTHING".format(
            ", ".join(quote(meta.get_field(name).column) for name in unique)
        )
    if unique and adopt:
        held = quote(meta.get_field(adopt).column)
        changed = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns)
        conflict = conflict.replace(
            "DO NOTHING",
            f"DO UPDATE SET {changed} WHERE {table}.{held} IS NULL AND excluded.{held} IS NOT NULL",
        )
    back = ", ".join(quote(meta.get_field(name).column) for name in returning)
    # Only quoted names from the model's meta are formatted in; the rows are the parameter.
    sql = f"INSERT INTO {table} ({target}) {source}{conflict} RETURNING {back}"  # noqa: S608
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def insert_instances(objs: list[M]) -> list[M]:
    """`bulk_create` for the inbound path's rows: the unsaved instances inserted in one
    statement of `insert_rows`, each given its primary key. As with bulk_create, no signals.

    bulk_create prepares every field of every row through the ORM's compiler and psycopg then
    quotes each value into the statement: for a webhook batch's messages that cost several
    times the insert itself. For models whose fields `insert_rows` carries (text, numbers,
    booleans, datetimes, and JSON objects or lists)."""
    if not objs:
        return objs
    alias = current().alias
    for obj, (pk,) in zip(objs, insert_rows(type(objs[0]), rows_of(objs)), strict=True):
        adopt_key(obj, pk, alias)
    return objs


def rows_of(objs: list[M]) -> list[dict]:
    """The unsaved instances as `insert_rows` takes them: each concrete field's value as
    saving would write it (auto_now and defaults applied)."""
    fields = [field for field in objs[0]._meta.concrete_fields if not field.primary_key]
    # Most fields save their attribute as it is: only those that change it (auto_now, files)
    # are asked, a call less per field of every row.
    own = {field.attname for field in fields if type(field).pre_save is not Field.pre_save}
    return [
        {
            field.attname: field.pre_save(obj, True)
            if field.attname in own
            else getattr(obj, field.attname)
            for field in fields
        }
        for obj in objs
    ]


def adopt_key(obj: models.Model, pk: int, alias: str = DEFAULT_DB_ALIAS) -> None:
    """`obj` as saved with primary key `pk`: a later save() updates its row."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = alias


def among(ids) -> RawSQL:
    """`ids` as a subquery for a `__in` filter, sent as one text parameter: psycopg quotes a
    list of thousands of ids, and Django writes a placeholder for each, at a cost in Python
    greater than the query's."""
    ids = [int(pk) for pk in ids]
    if connection.vendor == "postgresql":
        # An array literal, not JSON: the planner counts a constant array's elements, so a
        # handful of ids reads the index; from a JSON array it guesses 100 rows and may scan
        # the whole table to hash them.
        array = "{" + ",".join(map(str, ids)) + "}"
        return RawSQL("SELECT unnest(%s::bigint[])", [array])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)])


def one_of(values) -> tuple[str, object]:
    """`IN` a list of values as SQL with one parameter, for the statements the inbound path
    runs on every batch: `f"WHERE number_id {sql}"`, with `param` in its place. Written out,
    not built by the ORM: for a query of a few rows, compiling it cost several times its
    running (and the text stays the same whatever the count)."""
    values = list(values)
    if connection.vendor == "postgresql":
        return "= ANY(%s)", values
    return "IN (SELECT value FROM json_each(%s))", json.dumps(values)


def fetch(sql: str, params: list) -> list[tuple]:
    """The rows of a statement written with `one_of`. On PostgreSQL its parameters are bound
    on the server, never prepared: psycopg no longer quotes each list into the text (about
    a twentieth of the webhook writer's time, in py-spy), and PostgreSQL still plans the
    lookup for these values, as a prepared statement's generic plan would not
    (`prepared_cursor`)."""
    with server_cursor(prepared=False) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def columns_of(model: type[models.Model], table: str) -> str:
    """A model's columns as `built` reads them, qualified by the name its `table` goes by in
    a statement written out: `f"SELECT {columns_of(Contact, 'c')}, … FROM … AS c"`."""
    quote = connection.ops.quote_name
    return ", ".join(f"{table}.{quote(field.column)}" for field in model._meta.concrete_fields)


def built(model: type[M], row) -> M:
    """The instance held by a row that starts with `columns_of(model, …)`, its values
    converted as a queryset converts them (a JSON field's text, SQLite's datetimes).

    For the statements every webhook batch runs: a raw queryset works out its columns' order
    again each time, at more than the statement's cost for a handful of rows."""
    db = current()
    names, converters = conversions(model, db.alias)
    values = list(row[: len(names)])
    for index, field_converters in converters:
        for converter, column in field_converters:
            values[index] = converter(values[index], column, db)
    return model.from_db(db.alias, names, values)


@functools.lru_cache(maxsize=64)
def conversions(model: type[models.Model], alias: str) -> tuple[list[str], list]:
    database = connections[alias]
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        found = database.ops.get_db_converters(column) + field.get_db_converters(database)
        if found:
            converters.append((index, [(converter, column) for converter in found]))
    return [field.attname for field in fields], converters


def prepared_cursor():
    """A cursor for the inserts every webhook batch runs (`insert_rows`: the same text
    whatever the rows). On PostgreSQL it binds its parameters on the server, and a statement
    run before on the connection is prepared there, so PostgreSQL parses and plans it once
    per connection (the pool keeps connections, and with them their prepared statements),
    and psycopg no longer quotes the rows' JSON into the text. Django's own cursors bind on
    the client, which never prepares. Only inserts: a lookup's plan depends on how many rows
    its table had when it was prepared (a scan of the whole table, measured, for one that was
    prepared while its table was empty); an insert's does not.
    """
    return server_cursor(prepared=True)


def current():
    """This thread's database connection itself. Each attribute read through Django's
    `connection` proxy looks the connection up again in a thread-local: a function that
    reads it a few times per row looks it up once here instead."""
    return connections[DEFAULT_DB_ALIAS]


@contextmanager
def server_cursor(*, prepared: bool) -> Iterator:
    db = current()
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            yield cursor
        return
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        raw = (ServerBindingCursor if prepared else UnpreparedCursor)(db.connection)
    wrapper = ShownDebugCursor if db.queries_logged else CursorWrapper
    with wrapper(raw, db) as cursor:
        yield cursor


class UnpreparedCursor(ServerBindingCursor):
    """Binds on the server and never prepares, whatever the connection's threshold."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=False, binary=binary)


class ShownDebugCursor(CursorDebugWrapper):
    """What tests and DEBUG capture of a prepared cursor's statement: its text with the values
    in, as Django's own cursors show theirs (a prepared statement keeps no text to show)."""

    def execute(self, sql, params=None):
        with self.debug_sql(self.db.ops.compose_sql(sql, params)):
            return CursorWrapper.execute(self, sql, params)


def drop_single_column_index(connection, table: str, column: str) -> None:
    """Drop `table`'s plain index on `column` alone, on PostgreSQL. Only the index goes: altering
    the field would drop and re-add its foreign key, checking every row again. SQLite keeps it
    (altering a field there rebuilds the table, and with it would go the triggers on it)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s "
            "AND indexdef NOT LIKE 'CREATE UNIQUE%%'",
            [table, f"% USING btree ({column})"],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def drop_column_indexes(schema_editor, table: str, column: str, *, keep: str = "") -> None:
    """Drop every plain index on `table`.`column` alone but `keep`, on either database, found by
    its column (their names are Django's hashes; on PostgreSQL a text column has a second one,
    for LIKE). For a field become `db_index=False` in the state only: no table is rebuilt.
    `drop_single_column_index` stays as the earlier migrations ran it (PostgreSQL only, plain
    btrees): a fresh install must build the schema they built."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    for name, about in constraints.items():
        if about["index"] and not about["unique"] and about["columns"] == [column] and name != keep:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def drop_foreign_key(connection, table: str, column: str) -> None:
    """Drop the foreign-key constraint on `table`.`column`, on PostgreSQL, for a field become
    `db_constraint=False` (accounts.models.COPIED); its index stays. SQLite keeps it: altering
    the field there rebuilds the table, and with it would go the triggers on it."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conname FROM pg_constraint c JOIN pg_attribute a "
            "ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND a.attname = %s "
            "AND array_length(c.conkey, 1) = 1",
            [table, column],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
