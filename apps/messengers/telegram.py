"""A small client for the Telegram Bot API (https://core.telegram.org/bots/api), over `requests`.

Every method is `POST <base>/bot<token>/<method>`; every answer is JSON
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": n, "description": "...",
"parameters": {"retry_after": s}}`. Files are fetched from `<base>/file/bot<token>/<file_path>`.
`PARLEY_TELEGRAM_API_BASE` points it elsewhere (the tests' fake server on loopback).

Errors are told apart by what they mean for a retry:
- `TelegramRetryAfter` (429): flood control; wait `retry_after` seconds, then the same call.
- `TelegramUnauthorized` (401): the token is wrong or was revoked in @BotFather.
- `TelegramBlocked` (403): the person blocked the bot or deleted the chat; never retry.
- `TelegramUnreachable`: no connection was made; the call surely did not happen, retry.
- `TelegramNoAnswer`: the request may have reached Telegram (timeout, cut connection): a
  retry could send the message twice, so callers that must not duplicate do not retry.
- `TelegramError`: anything else Telegram refused (400: bad request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 20
# Telegram serves bots files up to 20 MB; Parley's own attachment limit is applied on top.
FILE_MAX_BYTES = 20 * 1024 * 1024


class TelegramError(Exception):
    def __init__(self, description: str, *, error_code: int | None = None, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.error_code = error_code
        self.retry_after = retry_after


class TelegramRetryAfter(TelegramError):
    pass


class TelegramUnauthorized(TelegramError):
    pass


class TelegramBlocked(TelegramError):
    pass


class TelegramUnreachable(TelegramError):
    pass


class TelegramNoAnswer(TelegramError):
    pass


@dataclass(frozen=True)
class BotInfo:
    id: int
    username: str
    first_name: str


def api_base() -> str:
    return (getattr(settings, "PARLEY_TELEGRAM_API_BASE", "") or "https://api.telegram.org").rstrip("/")


class TelegramClient:
    def __init__(self, token: str, *, session: requests.Session | None = None) -> None:
        if not token or any(ch.isspace() or ch == "/" for ch in token):
            raise TelegramUnauthorized("malformed token", error_code=401)
        self.token = token
        self.session = session or requests.Session()

    def _url(self, method: str) -> str:
        return f"{api_base()}/bot{self.token}/{method}"

    def call(self, method: str, params: dict[str, Any] | None = None, files: dict | None = None) -> Any:
        try:
            if files:
                response = self.session.post(
                    self._url(method), data=params or {}, files=files, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
                )
            else:
                response = self.session.post(
                    self._url(method), json=params or {}, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
                )
        except (requests.ConnectionError, requests.ConnectTimeout) as exc:
            if isinstance(exc, requests.ConnectTimeout) or _never_sent(exc):
                raise TelegramUnreachable(f"{type(exc).__name__}") from exc
            raise TelegramNoAnswer(f"{type(exc).__name__}") from exc
        except requests.RequestException as exc:  # read timeout and the like: it may have happened
            raise TelegramNoAnswer(f"{type(exc).__name__}") from exc
        return _result(response)

    # --- the methods Parley uses -------------------------------------------------------------

    def get_me(self) -> BotInfo:
        me = self.call("getMe")
        if not isinstance(me, dict) or not me.get("is_bot") or not me.get("username"):
            raise TelegramError("getMe did not describe a bot")
        return BotInfo(id=int(me["id"]), username=str(me["username"]), first_name=str(me.get("first_name") or ""))

    def set_webhook(self, *, url: str, secret_token: str) -> None:
        self.call(
            "setWebhook",
            {
                "url": url,
                "secret_token": secret_token,
                "allowed_updates": ["message", "my_chat_member"],
                "drop_pending_updates": False,
            },
        )

    def delete_webhook(self) -> None:
        self.call("deleteWebhook", {"drop_pending_updates": False})

    def get_webhook_info(self) -> dict:
        info = self.call("getWebhookInfo")
        return info if isinstance(info, dict) else {}

    def send_message(self, *, chat_id: int, text: str, parse_mode: str = "HTML") -> dict:
        return self.call(
            "sendMessage",
            {"chat_id": chat_id, "text": text, "parse_mode": parse_mode, "link_preview_options": {"is_disabled": True}},
        )

    def send_file(self, *, method: str, chat_id: int, filename: str, content: bytes, content_type: str) -> dict:
        field = "photo" if method == "sendPhoto" else "document"
        return self.call(method, {"chat_id": str(chat_id)}, files={field: (filename, content, content_type)})

    def get_file(self, file_id: str) -> dict:
        return self.call("getFile", {"file_id": file_id})

    def download(self, file_path: str, *, max_bytes: int) -> bytes:
        """The file's bytes; refuses paths that leave the bot's file area and files over `max_bytes`."""
        if not file_path or ".." in file_path.split("/") or file_path.startswith("/") or "?" in file_path:
            raise TelegramError("bad file path")
        url = f"{api_base()}/file/bot{self.token}/{file_path}"
        try:
            with self.session.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)) as response:
                if response.status_code != 200:
                    raise TelegramError(
                        f"file download failed ({response.status_code})", error_code=response.status_code
                    )
                chunks, size = [], 0
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TelegramError("file too large")
                    chunks.append(chunk)
                return b"".join(chunks)
        except requests.RequestException as exc:
            raise TelegramUnreachable(f"{type(exc).__name__}") from exc


def _never_sent(exc: Exception) -> bool:
    """A refused or unresolvable connection: the request never left."""
    text = repr(exc)
    return any(word in text for word in ("ConnectionRefused", "NewConnectionError", "NameResolution"))


def _result(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if response.status_code >= 500:
            # A proxy's error page: whether Telegram got the call is unknown.
            raise TelegramNoAnswer(f"HTTP {response.status_code}", error_code=response.status_code)
        raise TelegramError(f"HTTP {response.status_code}: not a Bot API answer", error_code=response.status_code)
    if body.get("ok") is True:
        return body.get("result")
    code = body.get("error_code") if isinstance(body.get("error_code"), int) else response.status_code
    description = str(body.get("description") or f"HTTP {code}")[:400]
    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    retry_after = parameters.get("retry_after")
    retry_after = int(retry_after) if isinstance(retry_after, int | float) and retry_after >= 0 else None
    if code == 429:
        raise TelegramRetryAfter(description, error_code=code, retry_after=retry_after or 1)
    if code == 401 or code == 404 and "Not Found" in description:
        # 404 "Not Found" is what api.telegram.org answers for a token it does not know.
        raise TelegramUnauthorized(description, error_code=code)
    if code == 403:
        raise TelegramBlocked(description, error_code=code)
    if code >= 500:
        # Telegram's own answer that the call failed ("Internal Server Error"): a retry is safe.
        raise TelegramUnreachable(description, error_code=code)
    raise TelegramError(description, error_code=code)
