"""The assistant's knowledge: what an organization wrote or uploaded for it to answer from (short
texts, questions and answers, documents), split into passages and retrieved for a question.

Splitting (`pieces`): Markdown by headings, then paragraphs packed up to `MAX_PASSAGE`
characters (a longer paragraph is cut between sentences, a longer sentence between words);
plain text is Markdown without headings; each question and answer is a passage of its own, the
question as its heading; a PDF's text is read with pypdf, a page a section.

Retrieval (`retrieve`): the question's words, folded (lower case, no accents: "Não" and "nao"
are one word) and without the little words of Portuguese and English (`stopwords`), are looked
up in the organization's enabled passages. A passage's score, from 0 to 1, is the share of
those words it holds (each word matched in its Portuguese or its English stemmed form:
PostgreSQL's `portuguese` and `english` text search configurations; SQLite's FTS5 with the
Porter stemmer); on PostgreSQL a word that no passage holds (misspelt, most likely) adds part of
its trigram similarity to the passage, so "horaro" still counts for something. Below `THRESHOLD` nothing is returned: the assistant
then says it does not know, rather than answer from an unrelated passage.

Owners and admins add, change, turn off and delete sources (audited); every change to a source's
text splits it again in the same transaction.
"""

import io
import re
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import PurePath

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.scoping import scoped
from conversa.accounts.services import record, same_org
from conversa.assistant.models import KnowledgePassage, KnowledgeSource
from conversa.assistant.stopwords import STOPWORDS
from conversa.errors import Forbidden, Refused

# A passage is at most this long: enough for a paragraph or an answer, short enough that five
# of them fit a model's prompt with room to spare.
MAX_PASSAGE = 800
TITLE_LENGTH = KnowledgeSource._meta.get_field("title").max_length
HEADING_LENGTH = KnowledgePassage._meta.get_field("heading").max_length
# A source's text, in characters (about a 60-page document), and its passages.
MAX_TEXT = 200_000
MAX_PASSAGES = 500
# Sources an organization may have (20,000 passages would be 40 full ones).
MAX_SOURCES = 500
# An uploaded document, in bytes, and a PDF's pages.
MAX_FILE = 5 * 1024 * 1024
MAX_PAGES = 300
DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown", ".pdf")
# The longest question searched, the words of it that count, and the most passages returned.
MAX_QUESTION = 1000
MAX_WORDS = 16
MAX_HITS = 20
# The score below which a passage does not answer the question (see the module's docstring):
# about a third of the question's words, or fewer words spelt nearly alike.
THRESHOLD = 0.3
# On PostgreSQL, a word no passage holds (misspelt, most likely) counts for this much of its
# trigram similarity to a passage; and each search scores at most this many candidates.
FUZZY_WEIGHT = 0.4
CANDIDATES = 200

WORD = re.compile(r"[a-z0-9]+")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
SENTENCE_END = re.compile(r"(?<=[.!?…:;])\s+")
QUESTION_MARK = re.compile(r"^\s*(?:q|p|question|pergunta)\s*:\s*", re.I)
ANSWER_MARK = re.compile(r"^\s*(?:a|r|answer|resposta)\s*:\s*", re.I)


def fold(text: str) -> str:
    """`text` in lower case without accents ("Não é" → "nao e"): what the search compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def keywords(question: str) -> list[str]:
    """The words of `question` that say what it is about: folded, without Portuguese and
    English stop words, each once, the first `MAX_WORDS`."""
    seen: dict[str, None] = {}
    for word in WORD.findall(fold(question[:MAX_QUESTION])):
        if word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)[:MAX_WORDS]


# Splitting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    heading: str
    text: str


def bounded(text: str, limit: int = MAX_PASSAGE) -> list[str]:
    """`text` in parts of at most `limit` characters, cut between sentences where it can,
    else between words; only a single word longer than `limit` (a long link) is cut inside."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for sentence in SENTENCE_END.split(text):
        units = [sentence] if len(sentence) <= limit else sentence.split()
        joiner = " "
        for unit in units:
            while len(unit) > limit:
                if current:
                    parts.append(current)
                    current = ""
                parts.append(unit[:limit])
                unit = unit[limit:]
            if current and len(current) + len(joiner) + len(unit) > limit:
                parts.append(current)
                current = ""
            current = f"{current}{joiner}{unit}" if current else unit
    if current:
        parts.append(current)
    return parts


def packed(paragraphs: list[str], heading: str) -> list[Piece]:
    """Consecutive paragraphs of one section joined up to `MAX_PASSAGE` characters each."""
    pieces: list[Piece] = []
    current = ""
    for paragraph in paragraphs:
        for part in bounded(paragraph):
            if current and len(current) + 2 + len(part) > MAX_PASSAGE:
                pieces.append(Piece(heading, current))
                current = ""
            current = f"{current}\n\n{part}" if current else part
    if current:
        pieces.append(Piece(heading, current))
    return pieces


def split_text(body: str) -> list[Piece]:
    """Markdown (or plain text): a section per heading, its paragraphs packed into passages
    that carry the heading."""
    pieces: list[Piece] = []
    heading, paragraphs, lines = "", [], []

    def end_paragraph():
        if lines:
            paragraphs.append(" ".join(line.strip() for line in lines))
            lines.clear()

    for line in body.splitlines():
        if match := HEADING.match(line):
            end_paragraph()
            pieces.extend(packed(paragraphs, heading))
            heading, paragraphs = match.group(2)[:HEADING_LENGTH], []
        elif line.strip():
            lines.append(line)
        else:
            end_paragraph()
    end_paragraph()
    pieces.extend(packed(paragraphs, heading))
    return pieces


def faq_pairs(body: str) -> list[tuple[str, str]]:
    """(question, answer) pairs. With markers ("Q:"/"P:" before a question, "A:"/"R:" before
    its answer), a question starts at each marked line; without, each block of lines between
    empty lines is a question (its first line) and its answer (the rest)."""
    lines = body.splitlines()
    pairs: list[tuple[str, list[str]]] = []
    if any(QUESTION_MARK.match(line) for line in lines):
        for line in lines:
            if QUESTION_MARK.match(line):
                pairs.append((QUESTION_MARK.sub("", line, count=1).strip(), []))
            elif pairs:
                pairs[-1][1].append(ANSWER_MARK.sub("", line, count=1))
    else:
        for block in re.split(r"\n\s*\n", body):
            block_lines = [line for line in block.splitlines() if line.strip()]
            if block_lines:
                answer = [ANSWER_MARK.sub("", line, count=1) for line in block_lines[1:]]
                pairs.append((block_lines[0].strip(), answer))
    return [(question, "\n".join(answer).strip()) for question, answer in pairs]


def split_faq(body: str) -> list[Piece]:
    """A passage per question and answer (a long answer in several, each with its question);
    refused, naming it, for a question without an answer or longer than a heading."""
    pieces: list[Piece] = []
    for question, answer in faq_pairs(body):
        if len(question) > HEADING_LENGTH:
            raise Refused(
                gettext("A question is longer than %(n)s characters: “%(question)s…”.")
                % {"n": HEADING_LENGTH, "question": question[:60]},
                field="body",
            )
        if not answer:
            raise Refused(
                gettext("The question “%(question)s” has no answer.") % {"question": question},
                field="body",
            )
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", answer) if p.strip()]
        pieces.extend(packed(paragraphs, question))
    return pieces


def pieces(kind: str, body: str) -> list[Piece]:
    """The passages of a source of `kind` whose text is `body`."""
    if kind == KnowledgeSource.Kind.FAQ:
        return split_faq(body)
    return split_text(body)


# Documents -----------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    """A PDF's text as Markdown: a section headed "p. N" per page with text, its lines joined
    into paragraphs (a PDF breaks lines where the page did). Refused for a file pypdf cannot
    read, an encrypted one, or one of more than `MAX_PAGES` pages."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    unreadable = gettext("This PDF cannot be read. Save it again as PDF, or paste its text.")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Refused(
                gettext("This PDF is protected by a password: upload one without."), field="file"
            )
        if len(reader.pages) > MAX_PAGES:
            raise Refused(
                gettext("A PDF has at most %(n)s pages.") % {"n": MAX_PAGES}, field="file"
            )
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise Refused(unreadable, field="file") from exc
    sections = []
    for number, text in enumerate(pages, start=1):
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
        if paragraphs:
            sections.append(f"## p. {number}\n\n" + "\n\n".join(paragraphs))
    return "\n\n".join(sections)


def document_text(file_name: str, data: bytes) -> str:
    """The text of an uploaded document: a PDF's (`pdf_text`), or a text or Markdown file's,
    read as UTF-8 (Windows-1252 when it is not). Refused for another kind of file, an empty
    or too large one."""
    suffix = PurePath(file_name).suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise Refused(gettext("Upload a PDF, text (.txt) or Markdown (.md) file."), field="file")
    if not data:
        raise Refused(gettext("The file is empty."), field="file")
    if len(data) > MAX_FILE:
        raise Refused(
            gettext("A document is at most %(mb)s MB.") % {"mb": MAX_FILE // (1024 * 1024)},
            field="file",
        )
    if suffix == ".pdf":
        if not data.startswith(b"%PDF-"):
            raise Refused(gettext("This file is not a PDF."), field="file")
        text = pdf_text(data)
        if not text.strip():
            raise Refused(
                gettext("This PDF has no text to read (a scan, perhaps): paste its text instead."),
                field="file",
            )
        return text
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


# Changing sources ----------------------------------------------------------------------------


def must_manage(member: Member) -> None:
    """Refuse (403) unless `member` is an active owner or admin."""
    if not member.is_active or not member.administers:
        raise Forbidden(gettext("Only owners and admins manage the assistant's knowledge."))


def checked(kind: str, title: str, body: str) -> tuple[str, str, list[Piece]]:
    """The title and text trimmed, and the passages they make; refused, naming the field."""
    # PostgreSQL stores no NUL character in text: one from outside is dropped, not a 500.
    title = (title or "").replace("\x00", "").strip()
    if not title or len(title) > TITLE_LENGTH:
        raise Refused(
            gettext("Give it a title of 1 to %(n)s characters.") % {"n": TITLE_LENGTH},
            field="title",
        )
    if kind not in KnowledgeSource.Kind.values:
        raise Refused(gettext("Choose text, questions and answers, or a document."), field="kind")
    body = (body or "").replace("\r\n", "\n").replace("\x00", "").strip()
    if not body:
        raise Refused(gettext("Write the text the assistant may answer from."), field="body")
    if len(body) > MAX_TEXT:
        raise Refused(
            gettext("The text is longer than %(n)s characters: split it in several.")
            % {"n": f"{MAX_TEXT:,}"},
            field="body",
        )
    found = pieces(kind, body)
    if not found:
        raise Refused(gettext("Write the text the assistant may answer from."), field="body")
    if len(found) > MAX_PASSAGES:
        raise Refused(
            gettext("This makes %(count)s passages, more than %(n)s: split it in several.")
            % {"count": len(found), "n": MAX_PASSAGES},
            field="body",
        )
    return title, body, found


def save_source(
    org: Organization,
    *,
    acting_member: Member,
    title: str,
    body: str,
    kind: str = KnowledgeSource.Kind.TEXT,
    source: KnowledgeSource | None = None,
    file_name: str = "",
    file_size: int | None = None,
) -> KnowledgeSource:
    """Add a source of `kind` (or change `source`: its title and text; its kind stays) and
    split its text into passages, in one transaction, audited. Refused (naming the field) for
    an empty or too long title or text, FAQ text with a question and no answer, too many
    passages, or an organization that has `MAX_SOURCES` already."""
    must_manage(acting_member)
    if source is not None:
        same_org(source, org.pk)
        kind = source.kind
    elif scoped(org, KnowledgeSource).count() >= MAX_SOURCES:
        raise Refused(
            gettext("An organization has at most %(n)s sources: delete one first.")
            % {"n": MAX_SOURCES}
        )
    title, body, found = checked(kind, title, body)
    now = timezone.now()
    with transaction.atomic():
        if source is None:
            source = KnowledgeSource(
                organization=org, kind=kind, created_by=acting_member, created_at=now
            )
            verb = "knowledge.created"
        else:
            verb = "knowledge.changed"
        if file_name:
            source.file_name, source.file_size = file_name[-255:], file_size
        source.title, source.body = title, body
        source.updated_by, source.updated_at = acting_member, now
        source.save()
        source.passages.all().delete()
        KnowledgePassage.objects.bulk_create(
            KnowledgePassage(
                organization=org,
                source=source,
                position=position,
                heading=piece.heading,
                text=piece.text,
                folded=fold(f"{piece.heading}\n{piece.text}"),
            )
            for position, piece in enumerate(found)
        )
        record(org.pk, verb, source, actor=acting_member, title=title, passages=len(found))
    return source


def add_document(
    org: Organization, *, acting_member: Member, title: str, file_name: str, data: bytes
) -> KnowledgeSource:
    """Add a document's text as a source (`document_text`: PDF, text or Markdown); its title
    is the file's name when none is given."""
    must_manage(acting_member)
    text = document_text(file_name, data)
    name = PurePath(file_name.replace("\x00", "")).name
    return save_source(
        org,
        acting_member=acting_member,
        kind=KnowledgeSource.Kind.DOCUMENT,
        title=(title or "").strip() or name[:TITLE_LENGTH],
        body=text,
        file_name=name,
        file_size=len(data),
    )


def set_enabled(source: KnowledgeSource, enabled: bool, *, acting_member: Member) -> None:
    """Turn a source on or off: a source turned off keeps its passages, none retrieved."""
    must_manage(acting_member)
    same_org(source, acting_member.organization_id)
    if source.enabled == enabled:
        return
    source.enabled, source.updated_by, source.updated_at = enabled, acting_member, timezone.now()
    source.save(update_fields=["enabled", "updated_by", "updated_at"])
    verb = "knowledge.enabled" if enabled else "knowledge.disabled"
    record(source.organization_id, verb, source, actor=acting_member, title=source.title)


def delete_source(source: KnowledgeSource, *, acting_member: Member) -> None:
    """Delete a source and its passages (answers already given keep their copies)."""
    must_manage(acting_member)
    same_org(source, acting_member.organization_id)
    with transaction.atomic():
        record(
            source.organization_id,
            "knowledge.deleted",
            source,
            actor=acting_member,
            title=source.title,
        )
        source.delete()


def passage_counts(org: Organization) -> dict[int, int]:
    """How many passages each of the organization's sources has, by source id."""
    rows = scoped(org, KnowledgePassage).values("source_id").annotate(n=Count("id"))
    return {row["source_id"]: row["n"] for row in rows}


# Retrieval -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """A passage retrieved for a question, with its score (0 to 1)."""

    passage_id: int
    source_id: int
    source_title: str
    heading: str
    text: str
    score: float

    def citation(self) -> dict:
        """What an answer keeps of the passage it used: a copy, since the source may change
        or go after the answer is given."""
        return asdict(self)


def _postgres_scores(org_id: int, words: list[str], limit: int) -> list[tuple[int, float]]:
    """1. The words no enabled passage of the organization holds in either language's form
       (misspelt, most likely): `missing`.
    2. Candidates: the `CANDIDATES` passages holding most words (each word's two queries made
       once, in `q`), best `ts_rank` first.
    3. Score: the share of the words a candidate holds, plus `FUZZY_WEIGHT` times each missing
       word's trigram similarity (`word_similarity`) to it, over the number of words.
    Passages holding none of the words are not searched by trigrams alone: with the tables'
    row-level security (accounts.tenancy) PostgreSQL cannot use an index for `%>` or `@@`
    (their functions are not LEAKPROOF), and a trigram pass over every passage took about a
    second for 10,000; such a passage could score at most `FUZZY_WEIGHT` anyway."""
    passages = """assistant_knowledgepassage p
        JOIN assistant_knowledgesource s ON s.id = p.source_id
        WHERE p.organization_id = %s AND s.organization_id = %s AND s.enabled"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT w FROM unnest(%s::text[]) AS w WHERE length(w) > 3 AND NOT EXISTS (
                SELECT 1 FROM {passages} AND (p.search_pt @@ plainto_tsquery('portuguese', w)
                                              OR p.search_en @@ plainto_tsquery('english', w)))
            """,  # noqa: S608 (constants)
            [words, org_id, org_id],
        )
        missing = [row[0] for row in cursor.fetchall()]
        any_word = " | ".join(words)
        cursor.execute(
            f"""
            WITH q AS (
                SELECT plainto_tsquery('portuguese', w) AS pt, plainto_tsquery('english', w) AS en
                FROM unnest(%s::text[]) AS w
            ), held AS (
                SELECT p.id,
                    (SELECT count(*) FROM q WHERE p.search_pt @@ q.pt OR p.search_en @@ q.en)
                        AS matched,
                    greatest(
                        ts_rank(p.search_pt, to_tsquery('portuguese', %s)),
                        ts_rank(p.search_en, to_tsquery('english', %s))
                    ) AS rank
                FROM {passages}
                  AND (p.search_pt @@ to_tsquery('portuguese', %s)
                       OR p.search_en @@ to_tsquery('english', %s))
                ORDER BY matched DESC, rank DESC, p.id
                LIMIT {CANDIDATES}
            ), scored AS (
                SELECT held.id, held.rank,
                    (held.matched + {FUZZY_WEIGHT} * (
                        SELECT coalesce(sum(word_similarity(m, p.folded)), 0)
                        FROM unnest(%s::text[]) AS m
                    )) / %s AS score
                FROM held JOIN assistant_knowledgepassage p ON p.id = held.id
            )
            SELECT id, score FROM scored WHERE score >= %s
            ORDER BY score DESC, rank DESC, id LIMIT %s
            """,  # noqa: S608 (constants and placeholders; every value is a parameter)
            [
                words,
                *[any_word] * 2,
                org_id,
                org_id,
                *[any_word] * 2,
                missing,
                len(words),
                THRESHOLD,
                limit,
            ],
        )
        return [(row[0], float(row[1])) for row in cursor.fetchall()]


def _sqlite_scores(org_id: int, words: list[str], limit: int) -> list[tuple[int, float]]:
    # FTS5 finds the candidates holding any word, best bm25 first (bm25 is lower for a better
    # match); then one query a word tells which candidates hold it, for the share.
    fts = "assistant_knowledgepassage_fts"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT p.id, bm25({fts}) FROM {fts}
                JOIN assistant_knowledgepassage p ON p.id = {fts}.rowid
                JOIN assistant_knowledgesource s ON s.id = p.source_id
                WHERE {fts} MATCH %s AND p.organization_id = %s AND s.organization_id = %s
                  AND s.enabled
                ORDER BY bm25({fts}) LIMIT 200""",  # noqa: S608 (constants)
            [" OR ".join(f'"{w}"' for w in words), org_id, org_id],
        )
        bm25 = dict(cursor.fetchall())
        if not bm25:
            return []
        matched = dict.fromkeys(bm25, 0)
        marks = ",".join(["%s"] * len(bm25))
        for word in words:
            cursor.execute(
                f"SELECT rowid FROM {fts} WHERE {fts} MATCH %s AND rowid IN ({marks})",  # noqa: S608
                [f'"{word}"', *bm25],
            )
            for (passage_id,) in cursor.fetchall():
                matched[passage_id] += 1
    scores = [(pk, count / len(words)) for pk, count in matched.items()]
    scores = [(pk, score) for pk, score in scores if score >= THRESHOLD]
    scores.sort(key=lambda item: (-item[1], bm25[item[0]], item[0]))
    return scores[:limit]


def retrieve(org: Organization, question: str, *, limit: int = 5) -> list[Hit]:
    """The organization's enabled passages that answer `question` best, best first, at most
    `limit` (1 to `MAX_HITS`), none scoring under `THRESHOLD`; [] for a question with no
    word that says what it is about."""
    limit = max(1, min(int(limit), MAX_HITS))
    words = keywords(question or "")
    if not words:
        return []
    if connection.vendor == "postgresql":
        scores = _postgres_scores(org.pk, words, limit)
    else:
        scores = _sqlite_scores(org.pk, words, limit)
    passages = (
        scoped(org, KnowledgePassage).select_related("source").in_bulk([s[0] for s in scores])
    )
    return [
        Hit(
            passage_id=pk,
            source_id=passages[pk].source_id,
            source_title=passages[pk].source.title,
            heading=passages[pk].heading,
            text=passages[pk].text,
            score=round(score, 3),
        )
        for pk, score in scores
        if pk in passages
    ]
