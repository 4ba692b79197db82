"""The database triggers that keep the Insights deltas: every insert, relevant update and delete
of a message, conversation, reopening event or Gate decision appends what it changed to
insights_delta in the same transaction, whatever code path made it (one row create, a bulk
insert, a queryset update, raw SQL). Each statement sums its contributions (rows.py), new ones
+1 and old ones -1, and writes only those that do not cancel out: a status moving from sent to
delivered writes one row, delivered +1.

On PostgreSQL a session can turn the upkeep off (`SET conversa.insights_upkeep = 'off'`): the
ingest bench measures the cost of the triggers that way. Nothing else should.
"""

from conversa.insights import rows

HEADER = (
    "SELECT 0 AS organization_id, NULL AS hour, '' AS metric, 0 AS number_id, "
    "0 AS queue_id, 0 AS agent_id, 0 AS value WHERE 1 = 0"
)


def now(vendor: str) -> str:
    return "now()" if vendor == "postgresql" else "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def append(vendor: str, parts: list[str]) -> str:
    union = " UNION ALL ".join([HEADER, *parts])
    return (
        f"INSERT INTO insights_delta ({rows.COLUMNS}, created_at) "  # noqa: S608 (constant SQL; values are parameters)
        "SELECT organization_id, hour, metric, number_id, queue_id, agent_id, SUM(value), "
        f"{now(vendor)} FROM ({union}) x "
        "GROUP BY organization_id, hour, metric, number_id, queue_id, agent_id "
        # No hour: the row's organization is being deleted (a flush deletes it first); its
        # counts go with it, rather than fail the deletion. Tested on an aggregate, so that
        # the planner cannot push it down into each branch: there it turned the Gate
        # decisions' index lookup into a scan of the whole table, for each row deleted.
        "HAVING SUM(value) <> 0 AND MAX(hour) IS NOT NULL"
    )


def changed(vendor: str, columns: list[str]) -> str:
    differ = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{column} {differ} NEW.{column}" for column in columns)


def message_rows(vendor: str, m: str, sign: str) -> str:
    return rows.message(
        vendor,
        m,
        "c" + m[0],
        sign,
        f"inbox_conversation c{m[0]} JOIN {rows.metrics_on(m)} "
        f"WHERE c{m[0]}.id = {m}.conversation_id",
    )


def reopened_rows(vendor: str, e: str, sign: str) -> str:
    return rows.reopened(
        vendor,
        e,
        "c",
        sign,
        f"inbox_conversation c WHERE c.id = {e}.object_id AND {rows.reopening(e)}",
    )


def decision_rows(vendor: str, d: str, sign: str) -> str:
    return rows.decision(
        vendor,
        d,
        "gc",
        sign,
        "engine_messageintent gi LEFT JOIN inbox_conversation gc "
        f"ON gc.id = gi.conversation_id WHERE gi.id = {d}.intent_id",
    )


DURATIONS = {
    # kind: (start, end, condition on the conversation row `{c}`), as figures.first_responses
    # and figures.resolutions choose their conversations.
    "first_response": (
        "first_inbound_at",
        "first_response_at",
        "{c}.first_inbound_at IS NOT NULL AND {c}.first_response_at IS NOT NULL",
    ),
    "resolution": (
        "first_inbound_at",
        "resolved_at",
        "{c}.status = 'resolved' AND {c}.first_inbound_at IS NOT NULL "
        "AND {c}.resolved_at IS NOT NULL",
    ),
}


def durations(c: str, source: str = "") -> list[str]:
    """Conversation `c`'s durations as they are now: the ones that no longer hold deleted, the
    others written, their seconds kept while their start and end are unchanged. With `source`
    (` FROM <new rows> c`, the inserted conversations of one statement), only written: a new
    conversation has none to delete."""
    statements = []
    for kind, (start, end, condition) in DURATIONS.items():
        holds = condition.format(c=c)
        if not source:
            statements.append(
                f"DELETE FROM insights_duration WHERE conversation_id = {c}.id "  # noqa: S608 (constant SQL)
                f"AND kind = '{kind}' AND NOT ({holds})"
            )
        statements.append(
            "INSERT INTO insights_duration (organization_id, conversation_id, kind, started_at, "  # noqa: S608 (constant SQL)
            "ended_at, number_id, queue_id, agent_id, seconds) "
            f"SELECT {c}.organization_id, {c}.id, '{kind}', {c}.{start}, {c}.{end}, "
            f"{c}.number_id, {rows.dims(c)}, NULL{source} WHERE {holds} "
            "ON CONFLICT (conversation_id, kind) DO UPDATE SET started_at = excluded.started_at, "
            "ended_at = excluded.ended_at, number_id = excluded.number_id, "
            "queue_id = excluded.queue_id, agent_id = excluded.agent_id, seconds = CASE WHEN "
            "insights_duration.started_at = excluded.started_at AND "
            "insights_duration.ended_at = excluded.ended_at THEN insights_duration.seconds END"
        )
    return statements


MESSAGE_COLUMNS = ["status", "direction", "number_id", "conversation_id", "created_at"]
CONVERSATION_COLUMNS = [
    "status",
    "resolved_at",
    "created_at",
    "number_id",
    "queue_id",
    "assignee_id",
    "first_inbound_at",
    "first_response_at",
    "first_response_due_at",
    "resolution_due_at",
]
TAG_COLUMNS = ["conversation_id", "tag_id"]
DIMENSIONS = ["number_id", "queue_id", "assignee_id"]
DURATION_COLUMNS = ["status", "first_inbound_at", "first_response_at", "resolved_at", *DIMENSIONS]
SCHEDULE = ["time_zone", "business_hours", "holidays"]
HANDLED_COLUMNS = ["direction", "sender_id", "number_id", "conversation_id", "created_at"]
HANDLED_KEY = "conversation_id, sender_id, number_id, hour"
DURATION_ROW_COLUMNS = ["kind", "ended_at", "seconds", "number_id", "queue_id", "agent_id"]


def replying(m: str) -> str:
    """Message `m` is a member's reply: it counts in the conversations they handled."""
    return f"{m}.direction = 'out' AND {m}.sender_id IS NOT NULL"


def handled_add(vendor: str, m: str) -> str:
    """Message `m`'s reply added to its (conversation, sender, number, hour) row."""
    return (
        f"INSERT INTO insights_handled (organization_id, {HANDLED_KEY}, messages) "  # noqa: S608 (constant SQL)
        f"SELECT {m}.organization_id, {m}.conversation_id, {m}.sender_id, "
        f"COALESCE({m}.number_id, 0), {rows.hour(vendor, m + '.created_at')}, 1 "
        f"WHERE {replying(m)} ON CONFLICT ({HANDLED_KEY}) "
        "DO UPDATE SET messages = insights_handled.messages + 1"
    )


def handled_remove(vendor: str, m: str) -> list[str]:
    """Message `m`'s reply taken off its row; the row deleted when none is left."""
    key = (
        f"conversation_id = {m}.conversation_id AND sender_id = {m}.sender_id AND "
        f"number_id = COALESCE({m}.number_id, 0) AND hour = {rows.hour(vendor, m + '.created_at')}"
    )
    return [
        f"UPDATE insights_handled SET messages = messages - 1 WHERE {key} AND {replying(m)}",  # noqa: S608 (constant SQL)
        f"DELETE FROM insights_handled WHERE {key} AND messages <= 0",  # noqa: S608 (constant SQL)
    ]


def handled_day(vendor: str, h: str, sign: int) -> list[str]:
    """A row of `models.Handled` put in (`sign` 1, `h` NEW) or taken out (-1, OLD): when it is
    the pair's (conversation, member) only row on its local day, that day's handled count comes
    or goes (`rows.HANDLED`), and the next day the pair replied on now follows this day, or
    again the one before (its count's day before changes)."""
    pair = f"x.conversation_id = {h}.conversation_id AND x.sender_id = {h}.sender_id"  # noqa: S608 (constant SQL)
    day, day_name = rows.day_start(vendor, f"{h}.hour"), rows.day_text(vendor, f"{h}.hour")
    alone = (
        f"NOT EXISTS (SELECT 1 FROM insights_handled x WHERE {pair} AND x.hour >= {day} "  # noqa: S608 (constant SQL)
        f"AND x.hour < {rows.next_day(vendor, f'{h}.hour')}"
        + (f" AND x.id <> {h}.id)" if sign > 0 else ")")
    )
    before = (
        f"COALESCE((SELECT MAX({rows.day_text(vendor, 'x.hour')}) FROM insights_handled x "  # noqa: S608 (constant SQL)
        f"WHERE {pair} AND x.hour < {day}), '')"
    )
    after = (
        f"(SELECT MIN(x.hour) AS hour FROM insights_handled x WHERE {pair} "  # noqa: S608 (constant SQL)
        f"AND x.hour >= {rows.next_day(vendor, f'{h}.hour')}) n"
    )
    head = f"SELECT {h}.organization_id, "
    tail = f", 0, 0, {h}.sender_id"
    later = rows.day_start(vendor, "n.hour")
    return [
        f"{head}{day}, '{rows.HANDLED}' || {before}{tail}, {sign} WHERE {alone}",
        f"{head}{later}, '{rows.HANDLED}' || {before}{tail}, {-sign} FROM {after} "
        f"WHERE n.hour IS NOT NULL AND {alone}",
        f"{head}{later}, '{rows.HANDLED}' || {day_name}{tail}, {sign} FROM {after} "
        f"WHERE n.hour IS NOT NULL AND {alone}",
    ]


def tags_of(vendor: str, c: str, sign: str) -> str:
    """Conversation `c`'s counts under each of the tags it has."""
    return rows.tagged(
        vendor, c, "t", sign, f"inbox_conversation_tags t WHERE t.conversation_id = {c}.id"
    )


def tagging(vendor: str, t: str, sign: str) -> str:
    """A tag put on (or taken off) a conversation: the conversation's counts under it."""
    return rows.tagged(
        vendor, "c", t, sign, f"inbox_conversation c WHERE c.id = {t}.conversation_id"
    )


def definitions(vendor: str) -> list[tuple[str, str, str, str, list[str]]]:
    """(name, table, event, condition, statements) of every trigger."""
    # A new conversation has no tags yet: its insert counts its own rows only.
    conv_new = rows.conversation(vendor, "NEW", "1")
    conv_old = rows.conversation(vendor, "OLD", "-1")
    return [
        (
            "insights_message_in",
            "inbox_message",
            "INSERT",
            "",
            [append(vendor, [message_rows(vendor, "NEW", "1")])],
        ),
        (
            "insights_message_up",
            "inbox_message",
            "UPDATE OF " + ", ".join(MESSAGE_COLUMNS),
            changed(vendor, MESSAGE_COLUMNS),
            [append(vendor, [message_rows(vendor, "NEW", "1"), message_rows(vendor, "OLD", "-1")])],
        ),
        (
            "insights_message_del",
            "inbox_message",
            "DELETE",
            "",
            [append(vendor, [message_rows(vendor, "OLD", "-1")])],
        ),
        (
            "insights_conversation_in",
            "inbox_conversation",
            "INSERT",
            "",
            [append(vendor, [conv_new])],
        ),
        (
            "insights_conversation_up",
            "inbox_conversation",
            "UPDATE OF " + ", ".join(CONVERSATION_COLUMNS),
            changed(vendor, CONVERSATION_COLUMNS),
            [
                append(
                    vendor,
                    [conv_new, conv_old, tags_of(vendor, "NEW", "1"), tags_of(vendor, "OLD", "-1")],
                )
            ],
        ),
        (
            "insights_conversation_move",
            "inbox_conversation",
            "UPDATE OF " + ", ".join(DIMENSIONS),
            changed(vendor, DIMENSIONS),
            [append(vendor, rows.related(vendor, "NEW", "1") + rows.related(vendor, "OLD", "-1"))],
        ),
        (
            "insights_conversation_del",
            "inbox_conversation",
            "DELETE",
            "",
            [
                append(
                    vendor,
                    [conv_old, tags_of(vendor, "OLD", "-1"), *rows.related(vendor, "OLD", "-1")],
                ),
                "DELETE FROM insights_duration WHERE conversation_id = OLD.id",
            ],
        ),
        ("insights_duration_in", "inbox_conversation", "INSERT", "", durations("NEW")),
        (
            "insights_duration_up",
            "inbox_conversation",
            "UPDATE OF " + ", ".join(DURATION_COLUMNS),
            changed(vendor, DURATION_COLUMNS),
            durations("NEW"),
        ),
        # Business seconds counted in the old hours are recounted in the new ones.
        (
            "insights_schedule_up",
            "accounts_organization",
            "UPDATE OF " + ", ".join(SCHEDULE),
            changed(vendor, SCHEDULE),
            ["UPDATE insights_duration SET seconds = NULL WHERE organization_id = NEW.id"],
        ),
        (
            "insights_event_in",
            "accounts_operationalevent",
            "INSERT",
            rows.reopening("NEW"),
            [append(vendor, [reopened_rows(vendor, "NEW", "1")])],
        ),
        (
            "insights_event_up",
            "accounts_operationalevent",
            "UPDATE OF object_id, object_type",
            f"({changed(vendor, ['object_id', 'object_type'])}) AND "
            f"({rows.reopening('NEW')} OR {rows.reopening('OLD')})",
            [
                append(
                    vendor, [reopened_rows(vendor, "NEW", "1"), reopened_rows(vendor, "OLD", "-1")]
                )
            ],
        ),
        (
            "insights_event_del",
            "accounts_operationalevent",
            "DELETE",
            rows.reopening("OLD"),
            [append(vendor, [reopened_rows(vendor, "OLD", "-1")])],
        ),
        (
            "insights_handled_in",
            "inbox_message",
            "INSERT",
            replying("NEW"),
            [handled_add(vendor, "NEW")],
        ),
        (
            "insights_handled_up",
            "inbox_message",
            "UPDATE OF " + ", ".join(HANDLED_COLUMNS),
            f"({changed(vendor, HANDLED_COLUMNS)}) AND ({replying('NEW')} OR {replying('OLD')})",
            [*handled_remove(vendor, "OLD"), handled_add(vendor, "NEW")],
        ),
        (
            "insights_handled_del",
            "inbox_message",
            "DELETE",
            replying("OLD"),
            handled_remove(vendor, "OLD"),
        ),
        (
            "insights_handled_day_in",
            "insights_handled",
            "INSERT",
            "",
            [append(vendor, handled_day(vendor, "NEW", 1))],
        ),
        (
            "insights_handled_day_del",
            "insights_handled",
            "DELETE",
            "",
            [append(vendor, handled_day(vendor, "OLD", -1))],
        ),
        (
            "insights_duration_hist_in",
            "insights_duration",
            "INSERT",
            "NEW.seconds IS NOT NULL",
            [append(vendor, [rows.duration(vendor, "NEW", "1")])],
        ),
        (
            "insights_duration_hist_up",
            "insights_duration",
            "UPDATE OF " + ", ".join(DURATION_ROW_COLUMNS),
            changed(vendor, DURATION_ROW_COLUMNS),
            [
                append(
                    vendor,
                    [rows.duration(vendor, "NEW", "1"), rows.duration(vendor, "OLD", "-1")],
                )
            ],
        ),
        (
            "insights_duration_hist_del",
            "insights_duration",
            "DELETE",
            "OLD.seconds IS NOT NULL",
            [append(vendor, [rows.duration(vendor, "OLD", "-1")])],
        ),
        (
            "insights_tag_in",
            "inbox_conversation_tags",
            "INSERT",
            "",
            [append(vendor, [tagging(vendor, "NEW", "1")])],
        ),
        (
            "insights_tag_up",
            "inbox_conversation_tags",
            "UPDATE OF " + ", ".join(TAG_COLUMNS),
            changed(vendor, TAG_COLUMNS),
            [append(vendor, [tagging(vendor, "NEW", "1"), tagging(vendor, "OLD", "-1")])],
        ),
        (
            "insights_tag_del",
            "inbox_conversation_tags",
            "DELETE",
            "",
            [append(vendor, [tagging(vendor, "OLD", "-1")])],
        ),
        (
            "insights_decision_in",
            "engine_gatedecision",
            "INSERT",
            "",
            [append(vendor, [decision_rows(vendor, "NEW", "1")])],
        ),
        (
            "insights_decision_del",
            "engine_gatedecision",
            "DELETE",
            "",
            [append(vendor, [decision_rows(vendor, "OLD", "-1")])],
        ),
    ]


# The inserts that come in bulk (a campaign's start: a Gate decision per person; an import of
# history: many messages; a burst of webhooks: a conversation and a message per new customer) are counted on PostgreSQL once per statement, over the rows it
# inserted (a transition table): one grouped insert of deltas instead of one per row. SQLite
# has no statement triggers; its row triggers count the same.
INSERTED = "inserted"


def per_statement(vendor: str) -> dict[str, list[str]]:
    """Trigger name → its statements over the transition table `inserted`, on PostgreSQL."""
    if vendor != "postgresql":
        return {}
    return {
        "insights_message_in": [
            append(
                vendor,
                [
                    rows.message(
                        vendor,
                        "m",
                        "cm",
                        "1",
                        f"{INSERTED} m JOIN inbox_conversation cm ON cm.id = m.conversation_id "
                        f"JOIN {rows.metrics_on('m')}",
                    )
                ],
            )
        ],
        # A webhook's batch of new customers: a conversation each, in one statement.
        "insights_conversation_in": [
            append(vendor, [rows.conversation(vendor, "c", "1", f" FROM {INSERTED} c")])
        ],
        "insights_duration_in": durations("c", f" FROM {INSERTED} c"),
        "insights_decision_in": [
            append(
                vendor,
                [
                    rows.decision(
                        vendor,
                        "d",
                        "gc",
                        "1",
                        f"{INSERTED} d JOIN engine_messageintent gi ON gi.id = d.intent_id "
                        "LEFT JOIN inbox_conversation gc ON gc.id = gi.conversation_id",
                    )
                ],
            )
        ],
    }


def install_sql(vendor: str, handled: bool = True) -> list[str]:
    statements = []
    whole = per_statement(vendor)
    for name, table, event, condition, body in definitions(vendor):
        if not handled and name.startswith("insights_handled"):
            continue  # its table comes later (migration 0003)
        when = f" WHEN ({condition})" if condition else ""
        if vendor == "postgresql":
            level = "ROW"
            if name in whole:
                body, level = whole[name], "STATEMENT"
                event = f"{event} ON {table} REFERENCING NEW TABLE AS {INSERTED}"
            else:
                event = f"{event} ON {table}"
            statements.append(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF current_setting('conversa.insights_upkeep', true) = 'off' THEN "
                f"RETURN NULL; END IF; {'; '.join(body)}; RETURN NULL; END $$"
            )
            statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} FOR EACH {level}{when} "
                f"EXECUTE FUNCTION {name}()"
            )
        else:
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} "
                f"BEGIN {'; '.join(body)}; END"
            )
    return statements


def drop_sql(vendor: str, only: str = "") -> list[str]:
    statements = []
    for name, table, *_ in definitions(vendor):
        if not name.startswith(only):
            continue
        if vendor == "postgresql":
            statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            statements.append(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
    return statements


def vendor_of(connection) -> str:
    return "postgresql" if connection.vendor == "postgresql" else "sqlite"


def install(connection, handled: bool = True) -> None:
    from conversa.insights.apps import add_functions  # SQLite's triggers call them

    add_functions(connection)
    with connection.cursor() as cursor:
        for statement in install_sql(vendor_of(connection), handled):
            cursor.execute(statement)


def drop(connection, only: str = "") -> None:
    """Drop the triggers (those whose name starts with `only`)."""
    with connection.cursor() as cursor:
        for statement in drop_sql(vendor_of(connection), only):
            cursor.execute(statement)
