"""What PostgreSQL's planner does with a statement the code ran."""

from django.db import connection


def index_conditions(sql: str) -> tuple[list[str], str]:
    """The Index Cond lines of `sql`'s plan, and the whole plan (for a failure's message)."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return [line for line in plan.splitlines() if "Index Cond" in line], plan
