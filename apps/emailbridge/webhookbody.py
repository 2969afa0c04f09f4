"""A provider webhook's body, read under the email size limit instead of Django's form limits.

Django refuses any form field over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) and any body it
reads through `request.body` over the same size. A provider's inbound webhook carries a
whole email (Mailgun's `body-mime` form field, Postmark's `RawEmail`, SES's `content`), up to
PARLEY_EMAIL_MAX_BYTES. So these views, and only these, read the body themselves within
`wire_max_bytes()` and parse a multipart form with `BoundedFormUploadHandler`; the rest of
the site keeps Django's limits.
"""

from __future__ import annotations

import email.errors
import email.parser
import email.policy
import email.utils
import io

from django.conf import settings
from django.core.exceptions import BadRequest, TooManyFieldsSent
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

from apps.emailbridge.models import email_max_bytes

# Base64 (SES, Postmark attachments) and form encoding make a message up to ~1.37 times larger on the wire.
WIRE_OVERHEAD = 1.4
WIRE_FRAMING_BYTES = 64 * 1024


def wire_max_bytes() -> int:
    """The largest webhook body that can carry a message of PARLEY_EMAIL_MAX_BYTES."""
    return int(email_max_bytes() * WIRE_OVERHEAD) + WIRE_FRAMING_BYTES


def declared_too_large(request: HttpRequest) -> bool:
    """True when the Content-Length alone is over the bound (refused before reading a byte)."""
    length = request.META.get("CONTENT_LENGTH") or ""
    return length.isdigit() and int(length) > wire_max_bytes()


def read_bounded(request: HttpRequest) -> bool:
    """Read the body within `wire_max_bytes()` (also without a Content-Length); False when it is larger.

    The body is then `request.body` for the provider's view, unchecked against
    DATA_UPLOAD_MAX_MEMORY_SIZE, and a multipart form is parsed by `BoundedFormUploadHandler`.
    """
    if not hasattr(request, "_body"):
        bound = wire_max_bytes()
        body = request.read(bound + 1)
        if len(body) > bound:
            return False
        request._body = body
        request._stream = io.BytesIO(body)
    request.upload_handlers = [BoundedFormUploadHandler(request)]
    return True


class BoundedFormUploadHandler(FileUploadHandler):
    """Parses a whole multipart/form-data body that `read_bounded` already read and bounded.

    Text fields go to `request.POST` (UTF-8), parts with a filename to `request.FILES`, and
    the exact bytes of every text field to `request.form_field_bytes` (Mailgun's
    `body-mime` is the customer's MIME, 8-bit bytes included). At most
    DATA_UPLOAD_MAX_NUMBER_FIELDS parts, like Django.
    """

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        body = input_data.read()
        max_parts = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        if max_parts is not None and body.count(b"--" + boundary) > max_parts + 1:
            raise TooManyFieldsSent("The number of form parts exceeded settings.DATA_UPLOAD_MAX_NUMBER_FIELDS.")
        header = b'Content-Type: multipart/form-data; boundary="' + boundary + b'"\r\n\r\n'
        form = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(header + body)
        broken = (email.errors.StartBoundaryNotFoundDefect, email.errors.CloseBoundaryNotFoundDefect)
        if not form.is_multipart() or any(isinstance(defect, broken) for defect in form.defects):
            raise BadRequest("The multipart form is malformed.")
        post, files, field_bytes = QueryDict(mutable=True), MultiValueDict(), {}
        for part in form.get_payload():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            name = email.utils.collapse_rfc2231_value(name)
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename:
                content_type = part.get_content_type() if part.get("Content-Type") else "application/octet-stream"
                files.appendlist(name, SimpleUploadedFile(filename, data, content_type))
            else:
                field_bytes[name] = data  # the last value, as request.POST[name] gives
                post.appendlist(name, data.decode(encoding or "utf-8", errors="replace"))
        if self.request is not None:
            self.request.form_field_bytes = field_bytes
        post._mutable = False
        return post, files
