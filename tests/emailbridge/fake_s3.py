"""A small S3 endpoint on loopback for the SES "S3 action" tests: path-style GetObject, as Amazon S3's
API reference shapes it, behind a real AWS Signature Version 4 check.

It answers `GET /<bucket>/<key>` with the object's bytes (Content-Length, ETag, Last-Modified), an
unknown key with the `NoSuchKey` XML error (404) and a request whose signature is not made with its
credentials with `SignatureDoesNotMatch` (403). Every request is recorded in `requests`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.server
import re
import threading
import urllib.parse
import uuid
from email.utils import formatdate

AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/s3/aws4_request,\s*"
    r"SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


class FakeS3:
    access_key = "AKIAPARLEYTESTKEY000"
    secret_key = "parley-test-secret-access-key/0123456789"
    region = "us-east-1"

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.requests: list[dict] = []
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.objects[(bucket, key)] = body

    def __enter__(self) -> FakeS3:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def signature_valid(self, method: str, raw_path: str, headers) -> bool:
        match = AUTHORIZATION.match(headers.get("Authorization", ""))
        if not match or match["key"] != self.access_key or match["region"] != self.region:
            return False
        amz_date = headers.get("x-amz-date", "")
        if not amz_date.startswith(match["date"]):
            return False
        path, _, query = raw_path.partition("?")
        canonical_query = "&".join(
            sorted(
                f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
            )
        )
        signed = match["signed"].split(";")
        canonical_headers = "".join(f"{name}:{' '.join((headers.get(name) or '').split())}\n" for name in signed)
        payload_hash = headers.get("x-amz-content-sha256", "")
        canonical_request = "\n".join(
            [method, path, canonical_query, canonical_headers, ";".join(signed), payload_hash]
        )
        scope = f"{match['date']}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
        )
        key = _hmac(("AWS4" + self.secret_key).encode(), match["date"])
        for part in (self.region, "s3", "aws4_request"):
            key = _hmac(key, part)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, match["signature"])

    def _handler(self):
        s3 = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _error(self, status: int, code: str, message: str, key: str = "") -> None:
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{code}</Code><Message>{message}</Message><Key>{key}</Key>"
                    f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.partition("?")[0]
                bucket, _, key = urllib.parse.unquote(path.lstrip("/")).partition("/")
                signed = s3.signature_valid("GET", self.path, self.headers)
                s3.requests.append({"method": "GET", "bucket": bucket, "key": key, "signed": signed})
                if not signed:
                    self._error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
                    return
                body = s3.objects.get((bucket, key))
                if body is None:
                    self._error(404, "NoSuchKey", "The specified key does not exist.", key)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')  # noqa: S324 - S3's ETag is MD5
                self.send_header("Last-Modified", formatdate(usegmt=True))
                self.send_header("x-amz-request-id", uuid.uuid4().hex[:16].upper())
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)  # a client that stops reading (an over-size object) closes early

            def log_message(self, *args):
                pass

        return Handler
