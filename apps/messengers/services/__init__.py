"""Every write of the messengers app (Telegram): bots, deep links, inbound updates, outbound replies."""

from apps.messengers.services.bots import (
    telegram_bot_check,
    telegram_bot_connect,
    telegram_bot_disconnect,
)
from apps.messengers.services.inbound import (
    bot_for_webhook,
    conversation_move_to_telegram,
    telegram_update_process,
    telegram_update_receive,
    telegram_updates_sweep,
)
from apps.messengers.services.links import telegram_link_consume, telegram_link_create
from apps.messengers.services.outbound import (
    FlushLater,
    telegram_chat_blocked,
    telegram_chat_flush,
    telegram_notice_queue,
    telegram_outbound_sweep,
    telegram_reply_queue,
)

__all__ = [
    "FlushLater",
    "bot_for_webhook",
    "conversation_move_to_telegram",
    "telegram_bot_check",
    "telegram_bot_connect",
    "telegram_bot_disconnect",
    "telegram_chat_blocked",
    "telegram_chat_flush",
    "telegram_link_consume",
    "telegram_link_create",
    "telegram_notice_queue",
    "telegram_outbound_sweep",
    "telegram_reply_queue",
    "telegram_update_process",
    "telegram_update_receive",
    "telegram_updates_sweep",
]
