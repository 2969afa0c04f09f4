"""Updates from Telegram: checked, stored once, then turned into visitor messages.

`telegram_update_receive` is what the webhook calls: it finds the bot by the webhook id in
the URL, compares the `X-Telegram-Bot-Api-Secret-Token` header with the bot's secret in
constant time, and stores the update once per `(bot, update_id)` (Telegram delivers again
when it gets no 200, and a duplicate is answered 200 and dropped). Processing runs in a task
after the commit (`telegram_update_process`), so a slow file download never holds Telegram's
request; an update a dead worker left `received` is enqueued again by the sweeper.

What an update does (private chats only; groups and channels are ignored):
- `/start <token>`: a deep link from the widget; the chat joins that visitor (any history
  the chat had as another visitor merges into it) and their open conversation moves here.
- text, a photo or a document (with its caption): a visitor message through the inbound path.
- `my_chat_member` with status `kicked`: the person blocked the bot; nothing is sent to them
  until they start it again (status `member`).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from apps.accounts.models import Tenant
from apps.conversations import services as conversation_services
from apps.conversations.errors import BadInput, ConversationError, NotFound
from apps.conversations.models import Conversation, Visitor
from apps.core.tenancy import scopes_disabled, tenant_scope
from apps.messengers import telegram
from apps.messengers.inbound_path import IncomingFile, visitor_message_receive
from apps.messengers.models import TelegramBot, TelegramChat, TelegramUpdate
from apps.messengers.services import links, outbound
from apps.messengers.services.bots import client_for

logger = logging.getLogger(__name__)

Status = TelegramUpdate.Status
UPDATE_MAX_BYTES = 256 * 1024
STUCK_AFTER = timedelta(minutes=2)
MAX_ATTEMPTS = 5
TELEGRAM = Conversation.Channel.TELEGRAM


def bot_for_webhook(webhook_id: str, secret: str | None) -> TelegramBot:
    """The bot whose webhook this is, if the secret header matches; anything else is NotFound."""
    if not isinstance(webhook_id, str) or not 8 <= len(webhook_id) <= 48:
        raise NotFound()
    with scopes_disabled():
        bot = TelegramBot.objects.filter(webhook_id=webhook_id).select_related("tenant").first()
    # Compared even when no bot matched, so the answer takes as long either way.
    expected = bot.secret_token if bot is not None else "x" * 64
    if not constant_time_compare(secret or "", expected) or bot is None or not bot.tenant.is_active:
        raise NotFound()
    return bot


def telegram_update_receive(*, bot: TelegramBot, payload: Any) -> tuple[TelegramUpdate | None, bool]:
    """Store one update for `bot` (already authenticated) and enqueue it: `(row, stored now)`.

    A malformed update is `BadInput`; a second delivery of a known `update_id` stores nothing.
    """
    if not isinstance(payload, dict) or type(payload.get("update_id")) is not int:
        raise BadInput("update_id missing")
    update_id = payload["update_id"]
    if not 0 <= update_id < 2**63:
        raise BadInput("update_id out of range")
    tenant = bot.tenant
    with tenant_scope(tenant), transaction.atomic():
        try:
            with transaction.atomic():
                row = TelegramUpdate.objects.create(tenant=tenant, bot=bot, update_id=update_id, payload=payload)
        except IntegrityError:
            return TelegramUpdate.objects.filter(tenant=tenant, bot=bot, update_id=update_id).first(), False
        _enqueue(tenant, row)
    return row, True


def _enqueue(tenant: Tenant, row: TelegramUpdate) -> None:
    from apps.messengers.tasks import telegram_update

    tenant_id, row_id = tenant.pk, row.pk
    transaction.on_commit(lambda: telegram_update.delay(tenant_id, row_id), robust=True)


# --- processing -------------------------------------------------------------------------------


def telegram_update_process(*, tenant: Tenant, update: TelegramUpdate) -> TelegramUpdate:
    """Process a `received` update once; any other status is left alone. Errors mark it `failed`."""
    with tenant_scope(tenant):
        with transaction.atomic():
            row = TelegramUpdate.objects.select_for_update().filter(tenant=tenant, pk=update.pk).first()
            if row is None:
                raise NotFound()
            if row.status != Status.RECEIVED:
                return row
            row.attempts += 1
            row.save(update_fields=["attempts"])
        try:
            with transaction.atomic():
                row = TelegramUpdate.objects.select_for_update().select_related("bot").get(pk=update.pk, tenant=tenant)
                if row.status != Status.RECEIVED:
                    return row
                row.status = _dispatch(tenant, row.bot, row)
                row.error = ""
                row.save(update_fields=["status", "error"])
        except telegram.TelegramUnreachable as exc:
            # Telegram's file server did not answer: leave it `received` for the retry / sweeper.
            TelegramUpdate.objects.filter(pk=update.pk, tenant=tenant).update(error=str(exc)[:2000])
            raise
        except Exception as exc:
            logger.exception("telegram update %s failed", update.pk)
            TelegramUpdate.objects.filter(pk=update.pk, tenant=tenant).update(
                status=Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
            )
        return TelegramUpdate.objects.get(pk=update.pk, tenant=tenant)


def _dispatch(tenant: Tenant, bot: TelegramBot, row: TelegramUpdate) -> str:
    payload = row.payload
    if isinstance(payload.get("my_chat_member"), dict):
        return _member_change(tenant, bot, payload["my_chat_member"])
    message = payload.get("message")
    if not isinstance(message, dict):
        return Status.IGNORED
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    if chat.get("type") != "private" or type(chat.get("id")) is not int or sender.get("is_bot"):
        return Status.IGNORED
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    if text == "/start" or text.startswith("/start "):
        _start(tenant, bot, chat, sender, text[len("/start") :].strip())
        return Status.PROCESSED
    return _visitor_message(tenant, bot, row, chat, sender, message)


def _display_name(sender: dict) -> str:
    parts = [sender.get("first_name"), sender.get("last_name")]
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())[:120]


def _username(sender: dict) -> str:
    value = sender.get("username")
    return value[:64] if isinstance(value, str) else ""


def _chat_for(tenant: Tenant, bot: TelegramBot, chat: dict, sender: dict, *, visitor: Visitor | None = None):
    """The TelegramChat row (locked), created with a visitor of its own on first sight."""
    chat_id = chat["id"]
    row = TelegramChat.objects.select_for_update().filter(tenant=tenant, bot=bot, chat_id=chat_id).first()
    if row is not None:
        changed = []
        if row.blocked_at is not None:
            row.blocked_at = None  # they write to us: they have not blocked the bot (any more)
            changed.append("blocked_at")
        username = _username(sender)
        if username and username != row.username:
            row.username = username
            changed.append("username")
        if changed:
            row.save(update_fields=changed)
        return row, False
    if visitor is None:
        visitor = conversation_services.visitor_identify(
            tenant=tenant,
            # Random, not derived from the chat id: a widget client that sends a guessable id as its
            # first-party id must never become this person.
            anonymous_id="tg-" + secrets.token_urlsafe(24),
            name=_display_name(sender),
            language=sender.get("language_code") if isinstance(sender.get("language_code"), str) else "",
        )
    row = TelegramChat.objects.create(
        tenant=tenant,
        bot=bot,
        chat_id=chat_id,
        visitor=visitor,
        username=_username(sender),
        name=_display_name(sender),
    )
    return row, True


def _notice(tenant: Tenant, chat: TelegramChat, text: str) -> None:
    with translation.override(chat.visitor.language[:2] or tenant.default_language or "en"):
        outbound.telegram_notice_queue(tenant=tenant, chat=chat, text=str(text))


def _start(tenant: Tenant, bot: TelegramBot, chat: dict, sender: dict, token: str) -> None:
    from apps.identity.services import visitor_merge

    link = links.telegram_link_consume(tenant=tenant, token=token) if token else None
    if link is None:
        row, _created = _chat_for(tenant, bot, chat, sender)
        if token:
            _notice(tenant, row, _("This link has expired. Write your question here and we will answer."))
        else:
            _notice(tenant, row, _("Hello! Write your question here and we will answer."))
        return
    target = Visitor.objects.select_for_update().get(pk=link.visitor_id, tenant=tenant)
    row, created = _chat_for(tenant, bot, chat, sender, visitor=target)
    if not created and row.visitor_id != target.pk:
        # The person wrote to the bot before, as a visitor of their own: that history joins this one.
        earlier = Visitor.objects.select_for_update().get(pk=row.visitor_id, tenant=tenant)
        visitor_merge(tenant=tenant, source=earlier, target=target)
        row.refresh_from_db()
    if not target.name and _display_name(sender):
        conversation_services.visitor_update(tenant=tenant, visitor=target, name=_display_name(sender))
    conversation = link.conversation
    if conversation is not None and not conversation.is_closed:
        conversation_move_to_telegram(tenant=tenant, conversation=conversation)
    _notice(tenant, row, _("You are connected. Continue the conversation here; we will answer in this chat."))


def conversation_move_to_telegram(*, tenant: Tenant, conversation: Conversation) -> Conversation:
    """Mark the conversation as continued in Telegram, so operator replies go there too."""
    with tenant_scope(tenant), transaction.atomic():
        locked = Conversation.objects.select_for_update().filter(pk=conversation.pk, tenant=tenant).first()
        if locked is None:
            raise NotFound()
        if locked.channel in (TELEGRAM, Conversation.Channel.EMAIL):
            return locked
        # The conversation services have no channel change yet; this is the one place it happens.
        locked.channel = TELEGRAM
        locked.save(update_fields=["channel"])
        from apps.conversations import events

        events.conversation_changed(locked, "updated")
    return locked


def _files(tenant: Tenant, bot: TelegramBot, message: dict) -> list[IncomingFile]:
    """The photo (its largest size) or document of the message, downloaded from Telegram."""
    from apps.conversations.services import attachment_max_bytes

    wanted = None
    photos = message.get("photo")
    if isinstance(photos, list) and photos:
        sizes = [p for p in photos if isinstance(p, dict) and isinstance(p.get("file_id"), str)]
        if sizes:
            largest = max(sizes, key=lambda p: (p.get("file_size") or 0, p.get("width") or 0))
            wanted = (largest["file_id"], f"photo-{message.get('message_id', 0)}.jpg", "image/jpeg", largest)
    document = message.get("document")
    if wanted is None and isinstance(document, dict) and isinstance(document.get("file_id"), str):
        name = document.get("file_name") if isinstance(document.get("file_name"), str) else "file"
        mime = document.get("mime_type") if isinstance(document.get("mime_type"), str) else "application/octet-stream"
        wanted = (document["file_id"], name, mime, document)
    if wanted is None:
        return []
    file_id, filename, content_type, described = wanted
    limit = min(attachment_max_bytes(), telegram.FILE_MAX_BYTES)
    if isinstance(described.get("file_size"), int) and described["file_size"] > limit:
        from apps.conversations.errors import AttachmentTooLarge

        raise AttachmentTooLarge()
    client = client_for(bot)
    info = client.get_file(file_id)
    path = info.get("file_path") if isinstance(info, dict) else None
    if not isinstance(path, str):
        raise telegram.TelegramError("getFile gave no file_path")
    content = client.download(path, max_bytes=limit)
    return [IncomingFile(filename=filename[:200], content=content, content_type=content_type[:100])]


UNSUPPORTED = ("sticker", "voice", "video", "video_note", "audio", "animation", "location", "contact", "poll")


def _visitor_message(tenant: Tenant, bot: TelegramBot, row: TelegramUpdate, chat: dict, sender: dict, message: dict):
    chat_row, _created = _chat_for(tenant, bot, chat, sender)
    body = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
    body = body if isinstance(body, str) else ""
    try:
        files = _files(tenant, bot, message)
    except ConversationError:
        files = []
        _notice(tenant, chat_row, _("This file cannot be sent here: it is too large or of a type we do not accept."))
        if not body:
            return Status.IGNORED
    if not body and not files:
        if any(key in message for key in UNSUPPORTED):
            _notice(tenant, chat_row, _("Please send text, photos or files; this kind of message cannot be shown."))
        return Status.IGNORED
    visitor = Visitor.objects.get(pk=chat_row.visitor_id, tenant=tenant)
    try:
        conversation, _message, _created = visitor_message_receive(
            tenant=tenant,
            visitor=visitor,
            channel=TELEGRAM,
            client_id=f"tg-{bot.bot_id}-{row.update_id}"[:64],
            body=body[: conversation_services.BODY_MAX_CHARS],
            files=files,
        )
    except ConversationError:
        # The file passed Telegram but not Parley's checks (type sniffed from its bytes).
        _notice(tenant, chat_row, _("This file cannot be sent here: it is too large or of a type we do not accept."))
        if not body:
            return Status.IGNORED
        conversation, _message, _created = visitor_message_receive(
            tenant=tenant,
            visitor=visitor,
            channel=TELEGRAM,
            client_id=f"tg-{bot.bot_id}-{row.update_id}"[:64],
            body=body[: conversation_services.BODY_MAX_CHARS],
        )
    conversation_move_to_telegram(tenant=tenant, conversation=conversation)
    return Status.PROCESSED


def _member_change(tenant: Tenant, bot: TelegramBot, change: dict) -> str:
    chat = change.get("chat") if isinstance(change.get("chat"), dict) else {}
    new = change.get("new_chat_member") if isinstance(change.get("new_chat_member"), dict) else {}
    if chat.get("type") != "private" or type(chat.get("id")) is not int:
        return Status.IGNORED
    status = new.get("status")
    row = TelegramChat.objects.select_for_update().filter(tenant=tenant, bot=bot, chat_id=chat["id"]).first()
    if row is None:
        return Status.IGNORED
    if status == "kicked":
        outbound.telegram_chat_blocked(tenant=tenant, chat=row, error="blocked by the user")
    elif status == "member" and row.blocked_at is not None:
        row.blocked_at = None
        row.save(update_fields=["blocked_at"])
    return Status.PROCESSED


def telegram_updates_sweep(*, now=None) -> int:
    """Enqueue again what a dead worker left `received`; give up (as `failed`) after repeated tries."""
    from apps.messengers.tasks import telegram_update

    now = now or timezone.now()
    with scopes_disabled():
        stuck = list(
            TelegramUpdate.objects.filter(status=Status.RECEIVED, received_at__lt=now - STUCK_AFTER)
            .select_related("tenant")
            .order_by("received_at")[:500]
        )
    count = 0
    for row in stuck:
        with tenant_scope(row.tenant):
            if row.attempts >= MAX_ATTEMPTS:
                TelegramUpdate.objects.filter(pk=row.pk, tenant=row.tenant, status=Status.RECEIVED).update(
                    status=Status.FAILED, error="gave up after repeated attempts"
                )
                continue
        telegram_update.delay(row.tenant_id, row.pk)
        count += 1
    return count
