"""Small files whose first bytes are what filetype reads (the rest is padding): enough for the
type checks and the send path, which never decode the picture or the sound."""

from django.core.files.uploadedfile import SimpleUploadedFile

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 120
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 120
OGG = b"OggS" + b"\x00" * 120
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 120
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 120
PDF = b"%PDF-1.4\n" + b"0" * 120
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 120
EXE = b"MZ" + b"\x00" * 120


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    """A file as Django hands an upload to a view (the browser's type is not trusted)."""
    return SimpleUploadedFile(name, data, content_type=content_type)
