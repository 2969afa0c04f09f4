"""A local Telegram Bot API on loopback: a real HTTP server answering as https://core.telegram.org/bots/api
documents it, so Parley's own client (requests) runs end to end.

- `POST /bot<token>/<method>` with JSON or multipart bodies; answers `{"ok": true, "result": ...}`
  or `{"ok": false, "error_code": n, "description": "...", "parameters": {"retry_after": s}}`.
- `getMe`, `setWebhook` (HTTPS URLs only, `secret_token` of 1-256 `A-Za-z0-9_-`, as Telegram
  checks), `deleteWebhook`, `getWebhookInfo`, `sendMessage` (text of 1-4096 characters after
  entity parsing; `parse_mode=HTML` parsed like Telegram: unknown tags and unescaped `<` or `&`
  are "can't parse entities"), `sendPhoto`, `sendDocument` (multipart uploads), `getFile`,
  and `GET /file/bot<token>/<file_path>`.
- A test scripts failures with `fail_next(method, status, description, retry_after=None)` and
  revokes a token with `revoke(token)`; every call is recorded in `calls`.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "tg-spoiler",
    "span",
    "blockquote",
}
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass
class Call:
    token: str
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)


def parse_html_entities(text: str) -> str:
    """The text a user sees for `parse_mode=HTML`, or ValueError as Telegram's "can't parse entities"."""
    out, stack, index = [], [], 0
    while index < len(text):
        ch = text[index]
        if ch == "<":
            end = text.find(">", index)
            if end < 0:
                raise ValueError(f"Unsupported start tag at byte offset {index}")
            tag = text[index + 1 : end].strip()
            closing = tag.startswith("/")
            name = tag.lstrip("/").split()[0].lower() if tag.lstrip("/") else ""
            if name not in ALLOWED_TAGS:
                raise ValueError(f'Unsupported start tag "{name}" at byte offset {index}')
            if closing:
                if not stack or stack.pop() != name:
                    raise ValueError(
                        f'Unmatched end tag at byte offset {index}, expected "</{stack[-1] if stack else ""}>"'
                    )
            else:
                stack.append(name)
            index = end + 1
        elif ch == "&":
            end = text.find(";", index)
            entity = text[index : end + 1] if end > 0 else ""
            if entity not in ("&lt;", "&gt;", "&amp;", "&quot;") and not re.fullmatch(
                r"&#\d+;|&#x[0-9a-fA-F]+;", entity
            ):
                raise ValueError(f"Character entity expected at byte offset {index}")
            out.append(html.unescape(entity))
            index = end + 1
        else:
            out.append(ch)
            index += 1
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTelegram:
    def __init__(self) -> None:
        self.bots: dict[str, dict] = {}  # token -> {"id", "username", "first_name", "webhook": {...}}
        self.calls: list[Call] = []
        self.sent: dict[int, list[dict]] = {}  # chat id -> messages the bot sent
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self.failures: list[tuple[str, int, str, int | None]] = []
        self.server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self._next_message_id = 100

    # --- test helpers --------------------------------------------------------------------------

    def add_bot(self, username: str = "acme_help_bot", bot_id: int | None = None) -> str:
        bot_id = bot_id or 7_000_000_000 + len(self.bots)
        token = f"{bot_id}:AA{secrets.token_urlsafe(24)}"
        self.bots[token] = {"id": bot_id, "username": username, "first_name": username.replace("_", " "), "webhook": {}}
        return token

    def revoke(self, token: str) -> None:
        self.bots.pop(token, None)

    def fail_next(self, method: str, status: int, description: str, retry_after: int | None = None) -> None:
        """The next call of `method` fails; `retry_after=-1` answers a proxy's HTML page instead of JSON."""
        self.failures.append((method, status, description, retry_after))

    def add_file(self, content: bytes, suffix: str = "jpg") -> str:
        file_id = "AgAC" + secrets.token_urlsafe(16)
        self.files[file_id] = (f"photos/file_{len(self.files)}.{suffix}", content)
        return file_id

    def webhook(self, token: str) -> dict:
        return self.bots[token]["webhook"]

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # --- the API ---------------------------------------------------------------------------------

    def _error(self, status: int, description: str, retry_after: int | None = None) -> tuple[int, dict]:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return status, body

    def _message(self, bot: dict, chat_id: int, **content: Any) -> dict:
        self._next_message_id += 1
        message = {
            "message_id": self._next_message_id,
            "from": {"id": bot["id"], "is_bot": True, "first_name": bot["first_name"], "username": bot["username"]},
            "chat": {"id": chat_id, "type": "private"},
            "date": 1_700_000_000,
            **content,
        }
        self.sent.setdefault(chat_id, []).append(message)
        return message

    def handle(self, token: str, method: str, params: dict, files: dict) -> tuple[int, dict]:
        with self._lock:
            self.calls.append(Call(token, method, params, files))
            bot = self.bots.get(token)
            if bot is None:
                return self._error(401, "Unauthorized")
            for index, (name, status, description, retry_after) in enumerate(self.failures):
                if name == method:
                    del self.failures[index]
                    if retry_after == -1:
                        return status, f"<html><body><h1>{status} {description}</h1></body></html>"
                    return self._error(status, description, retry_after)
            if method == "getMe":
                return 200, {
                    "ok": True,
                    "result": {
                        "id": bot["id"],
                        "is_bot": True,
                        "first_name": bot["first_name"],
                        "username": bot["username"],
                        "can_join_groups": True,
                        "can_read_all_group_messages": False,
                        "supports_inline_queries": False,
                    },
                }
            if method == "setWebhook":
                url = str(params.get("url") or "")
                if not url.startswith("https://"):
                    return self._error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
                secret = params.get("secret_token")
                if secret is not None and not SECRET_RE.fullmatch(str(secret)):
                    return self._error(400, "Bad Request: secret token contains unallowed characters")
                bot["webhook"] = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
                return 200, {"ok": True, "result": True, "description": "Webhook was set"}
            if method == "deleteWebhook":
                bot["webhook"] = {}
                return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}
            if method == "getWebhookInfo":
                hook = bot["webhook"]
                return 200, {
                    "ok": True,
                    "result": {"url": hook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0},
                }
            if method == "sendMessage":
                chat_id = params.get("chat_id")
                text = params.get("text")
                if not isinstance(chat_id, int | str) or not isinstance(text, str):
                    return self._error(400, "Bad Request: message text is empty")
                shown = text
                if params.get("parse_mode") == "HTML":
                    try:
                        shown = parse_html_entities(text)
                    except ValueError as exc:
                        return self._error(400, f"Bad Request: can't parse entities: {exc}")
                if not shown.strip():
                    return self._error(400, "Bad Request: message text is empty")
                if utf16_len(shown) > 4096:
                    return self._error(400, "Bad Request: message is too long")
                return 200, {"ok": True, "result": self._message(bot, int(chat_id), text=shown)}
            if method in ("sendPhoto", "sendDocument"):
                field_name = "photo" if method == "sendPhoto" else "document"
                upload = files.get(field_name)
                if upload is None:
                    return self._error(400, f"Bad Request: there is no {field_name} in the request")
                chat_id = int(params.get("chat_id"))
                filename, content, content_type = upload
                if method == "sendPhoto":
                    photo = [
                        {
                            "file_id": "AgAC" + secrets.token_urlsafe(8),
                            "file_unique_id": "u1",
                            "width": 90,
                            "height": 90,
                            "file_size": len(content),
                        }
                    ]
                    return 200, {"ok": True, "result": self._message(bot, chat_id, photo=photo, _bytes=content)}
                document = {
                    "file_id": "BQAC" + secrets.token_urlsafe(8),
                    "file_unique_id": "u2",
                    "file_name": filename,
                    "mime_type": content_type,
                    "file_size": len(content),
                }
                return 200, {"ok": True, "result": self._message(bot, chat_id, document=document, _bytes=content)}
            if method == "getFile":
                found = self.files.get(str(params.get("file_id")))
                if found is None:
                    return self._error(400, "Bad Request: invalid file_id")
                path, content = found
                return 200, {
                    "ok": True,
                    "result": {
                        "file_id": params["file_id"],
                        "file_unique_id": "u",
                        "file_size": len(content),
                        "file_path": path,
                    },
                }
            return self._error(404, "Not Found")

    def download(self, token: str, path: str) -> tuple[int, bytes]:
        if token not in self.bots:
            return 401, b""
        for stored_path, content in self.files.values():
            if stored_path == path:
                return 200, content
        return 404, b""

    # --- the server ------------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                match = re.fullmatch(r"/file/bot([^/]+)/(.+)", self.path)
                if match:
                    status, content = fake.download(match.group(1), match.group(2))
                    return self._reply(status, content, "application/octet-stream")
                self._answer(*self._route())

            def do_POST(self):
                self._answer(*self._route())

            def _route(self) -> tuple[str, str, dict, dict]:
                match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", self.path.split("?")[0])
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if not match:
                    return "", "", {}, {"__404__": True}
                content_type = self.headers.get("Content-Type", "")
                params: dict = {}
                files: dict = {}
                if content_type.startswith("application/json"):
                    params = json.loads(body or b"{}")
                elif content_type.startswith("multipart/form-data"):
                    message = BytesParser(policy=HTTP).parsebytes(
                        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
                    )
                    for part in message.iter_parts():
                        name = part.get_param("name", header="content-disposition")
                        filename = part.get_filename()
                        payload = part.get_payload(decode=True)
                        if filename is not None:
                            files[name] = (filename, payload, part.get_content_type())
                        else:
                            params[name] = payload.decode()
                return match.group(1), match.group(2), params, files

            def _answer(self, token, method, params, files):
                if files.get("__404__"):
                    return self._reply(
                        404, b'{"ok":false,"error_code":404,"description":"Not Found"}', "application/json"
                    )
                status, payload = fake.handle(token, method, params, files)
                if isinstance(payload, str):
                    return self._reply(status, payload.encode(), "text/html")
                data = json.dumps(payload, default=lambda value: None).encode()
                self._reply(status, data, "application/json")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
