"""The files customers send in the sandbox when a test or the customer page gives none (small
real files of each kind), and the fault injector for their downloads. Each side serves its
own files: the Graph API's media retrieval (graph_views.graph_object, then the signed URL;
model SandboxMedia) and Evolution's getBase64FromMediaMessage (evolution_chats.media_of;
model SandboxMessageMedia). A file's `fail_next` makes its next fetches answer 503.
"""

import base64
import hashlib
import struct
import zlib

from django.db.models import F

from conversa.sandbox.models import SandboxMedia, SandboxMessageMedia


def take_fault(media: SandboxMedia | SandboxMessageMedia) -> bool:
    """Whether this fetch is one the fault injector fails (counted down, once per fetch even
    when two fetch at the same time)."""
    return bool(
        media.fail_next
        and type(media)
        .objects.filter(pk=media.pk, fail_next__gt=0)
        .update(fail_next=F("fail_next") - 1)
    )


def sha256_base64(content: bytes) -> str:
    """A file's sha256 as WhatsApp's webhooks write it (base64)."""
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


def sample(kind: str) -> tuple[bytes, str]:
    """A small real file of the kind, and its type: what a customer sends when a test or the
    customer page gives no file of its own."""
    if kind == "image":
        return png(48, 32), "image/png"
    if kind == "document":
        return pdf("Conversa sandbox document"), "application/pdf"
    return ogg_opus(), "audio/ogg"


def png(width: int, height: int) -> bytes:
    """An RGB PNG of a green gradient."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (15, 138 - x, 95 + y))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf(text: str) -> bytes:
    """A one-page PDF that says `text` (ASCII)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def ogg_opus() -> bytes:
    """An Ogg Opus stream's two header pages (a voice note with no sound), CRCs included."""

    def page(sequence: int, flags: int, packet: bytes) -> bytes:
        header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, 0, 0x5A1D, sequence, 0, 1)
        raw = header + bytes([len(packet)]) + packet
        return raw[:22] + struct.pack("<I", ogg_crc(raw)) + raw[26:]

    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 7) + b"sandbox" + struct.pack("<I", 0)
    return page(0, 2, head) + page(1, 0, tags)


def ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc
