"""What the knowledge search reads, beside the ORM's columns (assistant.knowledge.retrieve).

PostgreSQL: two tsvector columns generated from `folded` (the `portuguese` and `english`
configurations, so "horários" and "horario", "refunds" and "refund" meet) with GIN indexes, and
pg_trgm for misspelt words' `word_similarity` (a trusted extension: the database's owner creates
it, as inbox's 0008 does). Under the tables' row-level security (accounts.tenancy) PostgreSQL
does not use the GIN indexes for `@@` (ts_match_vq is not LEAKPROOF, and only a superuser can
mark it so): the search reads the organization's passages; the indexes serve once it can.

SQLite: an FTS5 table over `folded` (external content: the passage table holds the text once),
with diacritics removed and the Porter stemmer, kept in step by triggers, so every way a
passage goes (a source saved again, a source or organization deleted by cascade, a flush)
leaves the index right. A later migration that rebuilds the passage table on SQLite (Django
does for most ALTERs there) drops these triggers: run `SQLITE_SQL` again after it.
tests/assistant/test_knowledge.py checks the index against the table.
"""

from django.db import migrations

TABLE = "assistant_knowledgepassage"
FTS = "assistant_knowledgepassage_fts"

POSTGRES_SQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"ALTER TABLE {TABLE} ADD COLUMN search_pt tsvector "
    "GENERATED ALWAYS AS (to_tsvector('portuguese'::regconfig, folded)) STORED",
    f"ALTER TABLE {TABLE} ADD COLUMN search_en tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, folded)) STORED",
    f"CREATE INDEX knowledge_passage_pt ON {TABLE} USING gin (search_pt)",
    f"CREATE INDEX knowledge_passage_en ON {TABLE} USING gin (search_en)",
]
POSTGRES_UNDO = [
    f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS search_en",
    f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS search_pt",
]

SQLITE_SQL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(folded, content='{TABLE}', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",
    f"""CREATE TRIGGER IF NOT EXISTS knowledge_passage_added AFTER INSERT ON {TABLE} BEGIN
        INSERT INTO {FTS}(rowid, folded) VALUES (new.id, new.folded);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS knowledge_passage_removed AFTER DELETE ON {TABLE} BEGIN
        INSERT INTO {FTS}({FTS}, rowid, folded) VALUES ('delete', old.id, old.folded);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS knowledge_passage_changed AFTER UPDATE ON {TABLE} BEGIN
        INSERT INTO {FTS}({FTS}, rowid, folded) VALUES ('delete', old.id, old.folded);
        INSERT INTO {FTS}(rowid, folded) VALUES (new.id, new.folded);
    END""",
]
SQLITE_UNDO = [
    "DROP TRIGGER IF EXISTS knowledge_passage_added",
    "DROP TRIGGER IF EXISTS knowledge_passage_removed",
    "DROP TRIGGER IF EXISTS knowledge_passage_changed",
    f"DROP TABLE IF EXISTS {FTS}",
]


def run(statements: dict):
    def apply(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("assistant", "0003_knowledge")]

    operations = [
        migrations.RunPython(
            run({"postgresql": POSTGRES_SQL, "sqlite": SQLITE_SQL}),
            run({"postgresql": POSTGRES_UNDO, "sqlite": SQLITE_UNDO}),
        ),
    ]
