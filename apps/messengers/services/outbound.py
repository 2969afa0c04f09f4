"""Operator replies to Telegram: queued with the message, sent in order per chat by a task.

An operator's public message in a Telegram conversation becomes a fixed list of
`TelegramOutbound` rows in the message's own transaction: the text in parts of at most
4,096 characters (Telegram's limit, counted in UTF-16 units as Telegram counts), then one
`sendPhoto` or `sendDocument` per file. The task `messengers.telegram_flush` sends a chat's
rows oldest first, one at a time:
- a row is claimed (`queued` -> `sending`) by a conditional UPDATE before the call, and only
  the claimer sends it: two workers never send the same row, and a sent row never goes again;
- at most `PARLEY_TELEGRAM_PER_SECOND` calls per bot (Telegram: about 30/s) and one per
  `PARLEY_TELEGRAM_CHAT_INTERVAL` seconds per chat (Telegram: about 1/s);
- a 429 puts the chat on hold for `retry_after` seconds and the task comes back then;
- 403 (the person blocked the bot) fails the chat's queue and marks the chat blocked;
  401 (token revoked) marks the bot for the admin; neither is retried;
- a call whose answer was lost (timeout after sending) is not resent, because Telegram has
  no idempotency key: it is marked failed ("may not have been delivered") instead of risking
  a duplicate.
The state is mirrored on the message (`data["telegram_delivery"]`), which the dashboard shows.
"""

from __future__ import annotations

import html
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from apps.accounts.models import Tenant
from apps.conversations import selectors as conversation_selectors
from apps.conversations.errors import NotFound
from apps.conversations.frames import operator_public_name
from apps.conversations.models import Attachment, Conversation, Message
from apps.core.ratelimit import rate_limit_exceeded
from apps.core.tenancy import scopes_disabled, tenant_scope
from apps.messengers import telegram
from apps.messengers.models import TelegramBot, TelegramChat, TelegramOutbound

logger = logging.getLogger(__name__)

Status = TelegramOutbound.Status
Method = TelegramOutbound.Method
TEXT_LIMIT = 4096
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_TYPES = {"image/png", "image/jpeg", "image/webp"}
SENDING_STUCK_AFTER = timedelta(minutes=5)
# Calls that surely did not reach Telegram (refused connection, its own 5xx) are retried this often.
UNREACHABLE_ATTEMPTS = 8


def chat_interval() -> float:
    return float(getattr(settings, "PARLEY_TELEGRAM_CHAT_INTERVAL", 1.0))


def per_second() -> int:
    return int(getattr(settings, "PARLEY_TELEGRAM_PER_SECOND", 30))


# --- text -------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into parts of at most `limit` UTF-16 units, at a line break or space when one is near."""
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        # The longest prefix that fits (characters outside the BMP count twice).
        cut, size = 0, 0
        for index, ch in enumerate(rest):
            size += 2 if ord(ch) > 0xFFFF else 1
            if size > limit:
                cut = index
                break
        window = rest[:cut]
        soft = max(window.rfind("\n"), window.rfind(" "))
        if soft >= cut // 2:
            cut = soft + 1
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    if rest.strip():
        parts.append(rest)
    return [part for part in parts if part]


def html_text(text: str) -> str:
    """Plain text for `parse_mode=HTML`: Telegram wants <, > and & escaped, nothing else."""
    return html.escape(text, quote=False)


def message_parts(author_name: str, body: str) -> list[str]:
    """The HTML texts of sendMessage calls for an operator's message: the author in bold on the first.

    Each part is at most 4,096 characters after Telegram parses the entities (the escapes
    count as the one character they stand for), so the split is made on the plain text.
    """
    body = body.strip()
    if not body:
        return []
    header = f"{author_name}\n" if author_name else ""
    plain = split_text(body, TEXT_LIMIT - utf16_len(header))
    texts = [html_text(part) for part in plain]
    if header:
        texts[0] = f"<b>{html_text(author_name)}</b>\n{texts[0]}"
    return texts


# --- queueing -----------------------------------------------------------------------------------


def _chat_of(tenant: Tenant, conversation: Conversation) -> TelegramChat | None:
    return (
        TelegramChat.objects.filter(tenant=tenant, visitor_id=conversation.visitor_id, blocked_at__isnull=True)
        .select_related("bot")
        .order_by("-created_at")
        .first()
    )


def _enqueue_flush(tenant: Tenant, chat: TelegramChat, countdown: float = 0) -> None:
    from apps.messengers.tasks import telegram_flush

    tenant_id, chat_pk = tenant.pk, chat.pk

    def go() -> None:
        if countdown > 0:
            telegram_flush.apply_async((tenant_id, chat_pk), countdown=countdown)
        else:
            telegram_flush.delay(tenant_id, chat_pk)

    transaction.on_commit(go, robust=True)


def _file_method(attachment: Attachment) -> str:
    content_type = attachment.content_type.split(";")[0]
    if content_type in PHOTO_TYPES and attachment.size <= PHOTO_MAX_BYTES:
        return Method.PHOTO
    return Method.DOCUMENT


def telegram_reply_queue(*, tenant: Tenant, message: Message) -> list[TelegramOutbound]:
    """Queue an operator's public message of a Telegram conversation for its chat (after its commit).

    Notes, system lines and visitor messages never leave; a message queued before is not queued again.
    """
    if message.tenant_id != tenant.pk:
        raise NotFound()
    if message.author_type != Message.Author.OPERATOR or message.kind not in (
        Message.Kind.TEXT,
        Message.Kind.ATTACHMENT,
    ):
        return []
    with tenant_scope(tenant):
        conversation = Conversation.objects.filter(tenant=tenant, pk=message.conversation_id).first()
        if conversation is None or conversation.channel != Conversation.Channel.TELEGRAM:
            return []
        chat = _chat_of(tenant, conversation)
        if chat is None or not chat.bot.is_active:
            return []
        author = operator_public_name(message.author) if message.author_id else ""
        rows = [
            TelegramOutbound(tenant=tenant, chat=chat, chat_message=message, part=i, method=Method.MESSAGE, text=text)
            for i, text in enumerate(message_parts(author, message.body))
        ]
        attachments = list(Attachment.objects.filter(tenant=tenant, message=message).order_by("pk"))
        for attachment in attachments:
            rows.append(
                TelegramOutbound(
                    tenant=tenant,
                    chat=chat,
                    chat_message=message,
                    part=len(rows),
                    method=_file_method(attachment),
                    attachment=attachment,
                )
            )
        if not rows:
            return []
        now = timezone.now()
        for row in rows:
            row.created_at = now
        with transaction.atomic():
            if TelegramOutbound.objects.filter(tenant=tenant, chat_message=message).exists():
                return []
            try:
                with transaction.atomic():
                    TelegramOutbound.objects.bulk_create(rows)
            except IntegrityError:  # the sweeper and the hook at once: the other one queued it
                return []
            _mirror(tenant, message.pk)
            _enqueue_flush(tenant, chat)
    return rows


def telegram_notice_queue(*, tenant: Tenant, chat: TelegramChat, text: str) -> TelegramOutbound:
    """A line from Parley itself to the chat (a greeting, "you are connected"): not a chat message."""
    with tenant_scope(tenant):
        row = TelegramOutbound.objects.create(
            tenant=tenant, chat=chat, chat_message=None, part=0, method=Method.MESSAGE, text=html_text(text)
        )
        _enqueue_flush(tenant, chat)
    return row


def _mirror(tenant: Tenant, message_id: int | None) -> None:
    """The message's delivery state for the dashboard: failed if any part failed, sent when all are."""
    if message_id is None:
        return
    statuses = list(
        TelegramOutbound.objects.filter(tenant=tenant, chat_message_id=message_id).values_list("status", "error")
    )
    if not statuses:
        return
    if any(status == Status.FAILED for status, _ in statuses):
        error = next(error for status, error in statuses if status == Status.FAILED)
        state = {"status": "failed", "error": error[:300]}
    elif all(status == Status.SENT for status, _ in statuses):
        state = {"status": "sent"}
    else:
        state = {"status": "queued"}
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(tenant=tenant, pk=message_id).first()
        if message is not None and (message.data or {}).get("telegram_delivery") != state:
            message.data = {**(message.data or {}), "telegram_delivery": state}
            message.save(update_fields=["data"])


# --- sending ------------------------------------------------------------------------------------


class FlushLater(Exception):
    """The chat's queue must wait `countdown` seconds (flood control, the bot's budget, another flusher)."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


def _fail(tenant: Tenant, rows, error: str) -> None:
    ids = list(rows.values_list("pk", flat=True))
    message_ids = set(rows.values_list("chat_message_id", flat=True))
    TelegramOutbound.objects.filter(tenant=tenant, pk__in=ids).update(status=Status.FAILED, error=error[:500])
    for message_id in message_ids:
        _mirror(tenant, message_id)


def telegram_chat_blocked(*, tenant: Tenant, chat: TelegramChat, error: str) -> None:
    """The person blocked the bot: mark the chat, and what waits for it will not be delivered."""
    with tenant_scope(tenant), transaction.atomic():
        TelegramChat.objects.filter(tenant=tenant, pk=chat.pk).update(blocked_at=timezone.now())
        waiting = TelegramOutbound.objects.filter(tenant=tenant, chat=chat, status__in=[Status.QUEUED, Status.SENDING])
        _fail(tenant, waiting, error)


def _payload_file(row: TelegramOutbound) -> tuple[str, bytes, str]:
    attachment = row.attachment
    if attachment is None:
        raise telegram.TelegramError("the file was deleted")
    with attachment.file.open("rb") as handle:
        return attachment.filename, handle.read(), attachment.content_type.split(";")[0]


def _send_one(client: telegram.TelegramClient, chat: TelegramChat, row: TelegramOutbound) -> dict:
    if row.method == Method.MESSAGE:
        return client.send_message(chat_id=chat.chat_id, text=row.text)
    filename, content, content_type = _payload_file(row)
    return client.send_file(
        method=row.method, chat_id=chat.chat_id, filename=filename, content=content, content_type=content_type
    )


def _claim(tenant: Tenant, row: TelegramOutbound) -> bool:
    now = timezone.now()
    claimed = TelegramOutbound.objects.filter(tenant=tenant, pk=row.pk, status=Status.QUEUED).update(
        status=Status.SENDING, claimed_at=now, attempts=row.attempts + 1
    )
    return claimed == 1


def telegram_chat_flush(*, tenant: Tenant, chat: TelegramChat) -> int:
    """Send the chat's queued rows in order; the number sent. Raises `FlushLater` when it must wait."""
    from apps.messengers.services.bots import bot_token, telegram_bot_mark_revoked

    lock = f"telegram:flush:{tenant.pk}:{chat.pk}"
    if not cache.add(lock, 1, timeout=120):
        raise FlushLater(1)  # another worker is sending this chat's queue; look again shortly
    sent = 0
    try:
        with tenant_scope(tenant):
            chat = TelegramChat.objects.select_related("bot").filter(tenant=tenant, pk=chat.pk).first()
            if chat is None:
                return 0
            waiting = TelegramOutbound.objects.filter(tenant=tenant, chat=chat, status=Status.QUEUED)
            if chat.blocked_at is not None:
                _fail(tenant, waiting, "blocked by the user")
                return 0
            bot: TelegramBot = chat.bot
            if not bot.is_active:
                if bot.status == TelegramBot.Status.TOKEN_REVOKED:
                    _fail(tenant, waiting, "the bot's token was revoked")
                return 0
            client = telegram.TelegramClient(bot_token(bot) or "-")
            last_sent_at = None
            while True:
                row = waiting.order_by("created_at", "part", "pk").select_related("attachment").first()
                if row is None:
                    return sent
                now = timezone.now()
                if chat.paused_until and chat.paused_until > now:
                    raise FlushLater((chat.paused_until - now).total_seconds())
                if rate_limit_exceeded(f"telegram-bot:{bot.pk}", limit=per_second(), period=1):
                    raise FlushLater(1)
                if last_sent_at is not None:
                    wait = chat_interval() - (time.monotonic() - last_sent_at)
                    if wait > 0:
                        time.sleep(wait)
                if not _claim(tenant, row):
                    continue
                try:
                    result = _send_one(client, chat, row)
                except telegram.TelegramRetryAfter as exc:
                    TelegramOutbound.objects.filter(tenant=tenant, pk=row.pk).update(
                        status=Status.QUEUED, error=exc.description
                    )
                    chat.paused_until = timezone.now() + timedelta(seconds=exc.retry_after)
                    TelegramChat.objects.filter(tenant=tenant, pk=chat.pk).update(paused_until=chat.paused_until)
                    raise FlushLater(exc.retry_after) from exc
                except telegram.TelegramUnreachable as exc:
                    if row.attempts + 1 >= UNREACHABLE_ATTEMPTS:
                        _fail(tenant, TelegramOutbound.objects.filter(tenant=tenant, pk=row.pk), exc.description)
                        continue
                    TelegramOutbound.objects.filter(tenant=tenant, pk=row.pk).update(
                        status=Status.QUEUED, error=exc.description
                    )
                    raise FlushLater(min(60, 2 ** min(row.attempts, 6))) from exc
                except telegram.TelegramBlocked as exc:
                    telegram_chat_blocked(tenant=tenant, chat=chat, error=exc.description)
                    return sent
                except telegram.TelegramUnauthorized as exc:
                    telegram_bot_mark_revoked(tenant=tenant, bot=bot, error=exc.description)
                    _fail(tenant, TelegramOutbound.objects.filter(tenant=tenant, pk=row.pk), exc.description)
                    _fail(tenant, waiting, "the bot's token was revoked")
                    return sent
                except telegram.TelegramNoAnswer as exc:
                    error = f"no answer from Telegram ({exc.description}); may not have been delivered"
                    _fail(tenant, TelegramOutbound.objects.filter(tenant=tenant, pk=row.pk), error)
                    continue
                except telegram.TelegramError as exc:
                    _fail(tenant, TelegramOutbound.objects.filter(tenant=tenant, pk=row.pk), exc.description)
                    continue
                last_sent_at = time.monotonic()
                message_id = result.get("message_id") if isinstance(result, dict) else None
                TelegramOutbound.objects.filter(tenant=tenant, pk=row.pk).update(
                    status=Status.SENT,
                    sent_at=timezone.now(),
                    error="",
                    telegram_message_id=message_id if isinstance(message_id, int) else None,
                )
                _mirror(tenant, row.chat_message_id)
                sent += 1
    finally:
        cache.delete(lock)


SWEEP_AFTER = timedelta(seconds=30)
SWEEP_WINDOW = timedelta(hours=1)


def telegram_outbound_sweep(*, now=None) -> int:
    """Beat: queue operator replies no hook queued, flush chats with rows still queued a minute on
    (a lost task), and give up rows stuck `sending` (a worker died mid-call: it may have been
    delivered, so it is not sent again). Returns the number of chats flushed."""
    now = now or timezone.now()
    missing = conversation_selectors.operator_replies_unsent(
        channel=Conversation.Channel.TELEGRAM, outbound_model=TelegramOutbound,
        now=now, after=SWEEP_AFTER, window=SWEEP_WINDOW,
    )
    for message in missing:
        telegram_reply_queue(tenant=message.tenant, message=message)
    with scopes_disabled():
        stuck = list(
            TelegramOutbound.objects.filter(
                status=Status.SENDING, claimed_at__lt=now - SENDING_STUCK_AFTER
            ).select_related("tenant")[:500]
        )
    for row in stuck:
        with tenant_scope(row.tenant):
            _fail(
                row.tenant,
                TelegramOutbound.objects.filter(tenant=row.tenant, pk=row.pk, status=Status.SENDING),
                "the worker stopped during the call; may not have been delivered",
            )
    with scopes_disabled():
        due = (
            TelegramOutbound.objects.filter(status=Status.QUEUED, created_at__lt=now - timedelta(minutes=1))
            .filter(Q(chat__paused_until__isnull=True) | Q(chat__paused_until__lt=now))
            .values("chat_id")
        )
        chats = list(TelegramChat.objects.filter(pk__in=Subquery(due)).values_list("tenant_id", "pk")[:500])
    from apps.messengers.tasks import telegram_flush

    for tenant_id, chat_pk in chats:
        telegram_flush.delay(tenant_id, chat_pk)
    return len(chats)
