"""What an uploaded file really is, decided from its bytes; the client's content type is ignored."""

from __future__ import annotations

import codecs

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from apps.conversations.errors import AttachmentTypeRefused

# Beyond this an image is a decompression bomb for whoever displays it.
IMAGE_MAX_PIXELS = 50_000_000
IMAGE_MAX_SIDE = 20_000
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
ZIP_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "zip": "application/zip",
}
OLE_TYPES = {"doc": "application/msword", "xls": "application/vnd.ms-excel", "ppt": "application/vnd.ms-powerpoint"}
TEXT_TYPES = {"txt": "text/plain", "csv": "text/csv"}


def sniff(head: bytes, extension: str, file: UploadedFile) -> tuple[str, int | None, int | None]:
    """Decide the real type from the content; the client's content_type is ignored.

    Returns (content_type, width, height) or raises AttachmentTypeRefused.
    """
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return _verify_image(file)
    if head.startswith(b"%PDF-"):
        return "application/pdf", None, None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP_TYPES.get(extension, "application/zip"), None, None
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") and extension in OLE_TYPES:
        return OLE_TYPES[extension], None, None
    if extension in TEXT_TYPES:
        charset = _text_charset(file)
        if charset is not None:
            return TEXT_TYPES[extension] + (f"; charset={charset}" if charset else ""), None, None
    raise AttachmentTypeRefused()


def _verify_image(file: UploadedFile) -> tuple[str, int, int]:
    from PIL import Image

    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except Exception as exc:  # any decoder error, truncation or decompression bomb
        raise AttachmentTypeRefused(_("This image is damaged or not really an image.")) from exc
    if image_format not in IMAGE_TYPES:
        raise AttachmentTypeRefused()
    if width * height > IMAGE_MAX_PIXELS or max(width, height) > IMAGE_MAX_SIDE:
        raise AttachmentTypeRefused(_("This image is too large to display."))
    return IMAGE_TYPES[image_format], width, height


def _text_charset(file: UploadedFile) -> str | None:
    """`"utf-8"` or `""` (some other 8-bit text, e.g. a spreadsheet's CSV export) for text; None for binary.

    A NUL byte means binary (or UTF-16, which chat users rarely send and browsers mislabel).
    """
    file.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    for chunk in file.chunks(64 * 1024):
        if b"\x00" in chunk:
            return None
        if utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return "utf-8" if utf8 else ""
