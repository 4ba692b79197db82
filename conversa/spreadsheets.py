"""Rows as a spreadsheet file, CSV or XLSX, written as they are read: the one writer of the
campaign's recipients (campaigns.campaign_export) and of the background exports
(insights.exports), and the one way to send such a file while it is read.

- CSV: UTF-8 with a BOM (Excel in pt-BR reads accents right only with it).
- XLSX: openpyxl's write-only mode, whose rows go to a temporary file as they are appended;
  the finished workbook is written to the caller's file. Neither holds the rows in memory.
- Times: the given zone's wall-clock time (Excel has no time zones), a real date in XLSX.
- A text cell a spreadsheet would run as a formula is written as text (`safe_cell`), so a
  customer's name cannot run on the exporter's machine.
- Under ASGI a streamed answer is read by an async iterator, each chunk in the request's
  thread: Django reads a plain iterator into one list before sending anything.
"""

import csv
import io
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import IO
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BOM = "\ufeff"
LINES_PER_CHUNK = 500
BLOCK = 64 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(cell: str) -> str:
    """`cell`, with a leading apostrophe when a spreadsheet would run it as a formula (OWASP's
    advice); a signed number such as a phone's "+5511…" stays as it is."""
    if cell.startswith(FORMULA_STARTS) and not cell[1:].isdigit():
        return f"'{cell}"
    return cell


class Sheet:
    """Rows appended one chunk at a time to a CSV or an XLSX in `handle` (a binary file);
    `close` finishes the file (the XLSX is written then)."""

    def __init__(
        self,
        fmt: str,
        handle: IO[bytes],
        header: list[str],
        zone: ZoneInfo,
        *,
        title: str = "",
        seconds: bool = True,
    ):
        self.fmt, self.handle, self.zone = fmt, handle, zone
        self.time_format = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
        self.number_format = "yyyy-mm-dd hh:mm:ss" if seconds else "yyyy-mm-dd hh:mm"
        if fmt == "csv":
            self.handle.write(self.csv_text([header], prefix=BOM))
        else:
            self.book = Workbook(write_only=True)
            self.sheet = self.book.create_sheet(title=(title or "Export")[:31])
            bold = Font(bold=True)
            titles = []
            for name in header:
                cell = WriteOnlyCell(self.sheet, name)
                cell.font = bold
                titles.append(cell)
            self.sheet.append(titles)

    def csv_text(self, rows: Iterable[list], prefix: str = "") -> bytes:
        buffer = io.StringIO()
        buffer.write(prefix)
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow([self.text(value) for value in row])
        return buffer.getvalue().encode()

    def text(self, value) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.astimezone(self.zone).strftime(self.time_format)
        if isinstance(value, str):
            return safe_cell(value)
        return str(value)

    def xlsx_cell(self, value):
        if isinstance(value, datetime):
            cell = WriteOnlyCell(self.sheet, value.astimezone(self.zone).replace(tzinfo=None))
            cell.number_format = self.number_format
            return cell
        if isinstance(value, str):
            return safe_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
        return value

    def append(self, rows: list[list]) -> None:
        if self.fmt == "csv":
            self.handle.write(self.csv_text(rows))
            return
        for row in rows:
            self.sheet.append([self.xlsx_cell(value) for value in row])

    def close(self) -> None:
        if self.fmt == "xlsx":
            self.book.save(self.handle)
        self.handle.flush()


def chunked(rows: Iterator[list], size: int = LINES_PER_CHUNK) -> Iterator[list[list]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def csv_chunks(header: list[str], rows: Iterator[list], zone: ZoneInfo, **options):
    """A CSV's bytes as it is written: the BOM and the header, then LINES_PER_CHUNK lines at a
    time (for an answer streamed while the rows are read)."""
    buffer = io.BytesIO()
    sheet = Sheet("csv", buffer, header, zone, **options)
    for chunk in chunked(rows):
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        sheet.append(chunk)
    yield buffer.getvalue()


def file_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    """A file's bytes a block at a time; the file is closed once read (or abandoned)."""
    try:
        while block := handle.read(BLOCK):
            yield block
    finally:
        handle.close()


async def read_async(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    step = sync_to_async(next, thread_sensitive=True)
    try:
        while (chunk := await step(chunks, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=True)()


def download(request: HttpRequest, chunks: Iterator[bytes], fmt: str, file_name: str):
    """A streamed attachment of `chunks` (async under ASGI, so no copy is held in memory)."""
    body = read_async(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(body, content_type=FORMATS[fmt])
    response["Content-Disposition"] = content_disposition_header(True, file_name)
    return response
