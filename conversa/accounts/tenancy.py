"""The tenant backstop in the database: PostgreSQL row-level security on every organization's
table, keyed by the organization the connection is working for.

Every query of ours already filters by organization (`scoping.scoped`); this is the net under
that habit. While a connection works for one organization (a member's request, an API token's
request), a query that forgets its filter returns none of another organization's rows, and a
row written for another organization is refused. Everything else runs unnarrowed: the
middleware finding who signed in, webhooks, the worker, commands. (Narrowing a webhook's or a
worker batch's transaction with a local setting was tried: inside the test suite's outer
transaction a local setting outlives its savepoint, and a second organization's webhook in the
same test was refused; it waits for a narrowing that resets with its savepoint.)

The setting is per connection (`set_config(…, false)`), set when a request starts working for an
organization and reset in a `finally` when it ends, so a pooled connection always goes back
unnarrowed. SQLite has no row-level security: there the functions do nothing.

PostgreSQL never applies row-level security to a superuser (nor to a role with BYPASSRLS): run
the application as an ordinary role that owns its tables (the policies are FORCEd, so the owner
is held to them too). `make test` runs the PostgreSQL half of the suite that way.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps

from django.apps import apps
from django.db import connection, connections

SETTING = "conversa.org_id"
# Unnarrowed: the connection works for no single organization.
EVERYONE = ""
POLICY = "conversa_tenant"


def _set(org_id: int | None) -> None:
    value = EVERYONE if org_id is None else str(int(org_id))
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, false)", [SETTING, value])
    # Remembered on Django's connection object, so that widening a connection that was never
    # narrowed (every webhook, every anonymous page) costs no round trip.
    connection.conversa_org_id = org_id


def narrow(org_id: int) -> None:
    """From now on this connection sees and writes only `org_id`'s rows (until `widen`)."""
    if connection.vendor == "postgresql":
        _set(org_id)


def widen() -> None:
    """This connection works for no single organization again."""
    if getattr(connection, "conversa_org_id", None) is not None:
        if connection.connection is None:
            # Closed meanwhile: a new connection starts unnarrowed.
            connection.conversa_org_id = None
        else:
            _set(None)


@contextmanager
def working_for(org_id: int | None) -> Iterator[None]:
    """Work for `org_id` in the block (for no single organization with None: a request that
    must reach beyond its own, such as accepting an invitation to another), then go back to what
    the connection worked for before, whatever happens."""
    if connection.vendor != "postgresql":
        yield
        return
    before = getattr(connection, "conversa_org_id", None)
    if org_id != before:
        _set(org_id)
    try:
        yield
    finally:
        if getattr(connection, "conversa_org_id", None) != before:
            _set(before)


def narrowed_to() -> int | None:
    """The organization this connection is narrowed to, if any (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [SETTING])
        value = cursor.fetchone()[0]
    return int(value) if value else None


def tenant_tables() -> list[tuple[str, str]]:
    """(table, column naming its organization) for every table of an organization's rows: a
    foreign key to Organization named `organization`, or a plain integer `organization_id` (the
    Insights aggregates keep one, not a key, so that a delta written while its organization is
    deleted does not fail the deletion; their rows are an organization's all the same)."""
    organization = apps.get_model("accounts", "Organization")
    tables = [(organization._meta.db_table, organization._meta.pk.column)]
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if (field.name == "organization" and field.related_model is organization) or (
                field.name == "organization_id" and field.get_internal_type() == "BigIntegerField"
            ):
                tables.append((model._meta.db_table, field.column))
                break
    return sorted(tables)


def _policy_sql(q, table: str, column: str) -> list[str]:
    # CASE, not OR: SQL may evaluate OR's operands in any order, and the cast of an empty
    # setting would fail; CASE evaluates its branches in order.
    rule = (
        f"CASE WHEN coalesce(current_setting('{SETTING}', true), '') = '' THEN true "
        f"ELSE {q(column)} = current_setting('{SETTING}', true)::bigint END"
    )
    return [
        f"ALTER TABLE {q(table)} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {q(table)} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY} ON {q(table)}",
        f"CREATE POLICY {POLICY} ON {q(table)} USING ({rule}) WITH CHECK ({rule})",
    ]


def install_policies(using: str = "default", **kwargs) -> None:
    """Give every organization's table its policy (a post_migrate receiver: a table a new
    migration adds gets its policy on that same `migrate`). Tables that have one are left alone,
    so a flush between tests costs one query."""
    db = connections[using]
    if db.vendor != "postgresql":
        return
    with db.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_policies WHERE policyname = %s", [POLICY])
        done = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        present = {row[0] for row in cursor.fetchall()}
        for table, column in tenant_tables():
            if table in present and table not in done:
                for statement in _policy_sql(db.ops.quote_name, table, column):
                    cursor.execute(statement)


def beyond_the_organization(view):
    """A page whose work reaches beyond the signed-in member's organization (accepting an
    invitation to another, creating a new one): it runs unnarrowed."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        with working_for(None):
            return view(request, *args, **kwargs)

    return wrapped
