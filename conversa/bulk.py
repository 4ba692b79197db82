"""Bulk writes the ORM does not express well."""

from django.db import connection, models


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
    moment (the insert waits for that transaction and then skips the row).
    """
    if not objs:
        return []
    model = type(objs[0])
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    keys = [meta.get_field(name) for name in unique]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for obj in objs
        for field in fields
    ]
    key_columns = ", ".join(quote(field.column) for field in keys)
    # Only quoted names from the model's meta are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES {', '.join([row] * len(objs))} "
        f"ON CONFLICT ({key_columns}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}, {key_columns}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = {tuple(found[1:]): found[0] for found in cursor.fetchall()}
    new = []
    for obj in objs:
        pk = inserted.get(tuple(getattr(obj, field.attname) for field in keys))
        if pk is not None:
            obj.pk = pk
            obj._state.adding = False
            new.append(obj)
    return new
