"""Every state change of visitors, conversations, messages and attachments, by subject.

| module | what it writes |
| --- | --- |
| `inbound` | a visitor's message, whatever the channel (`visitor_message_receive`): the one way in |
| `messages` | the next message (`message_send` = `message_check` + `message_store`), notes, read marks |
| `conversations` | `conversation_start` (the only place one begins) and routing's hook; accept, assign, |
| | transfer, close, reopen, rate; admin edits |
| `operators` | an operator's socket actions by ids (send, note, read, accept, close, reopen, transfer) |
| `visitors` | who a visitor is (identify, update), page views, notes about them |
| `attachments` | uploaded files (typed by `sniffing`) |
| `cleaning`, `guards` | input checks, and the tenant guards every service starts with |

Keyword-only, typed functions. Each takes the tenant, runs inside its scope, checks that
every object it was handed belongs to it (another tenant's object is `NotFound`), writes
in one transaction, and announces the result through `events`, whose functions register
themselves on commit. Consumers, views, admin, tasks and the email bridge call these;
none of them writes on its own. `from apps.conversations.services import X` works for
every public name below.
"""

from apps.conversations.models import Conversation
from apps.conversations.services.attachments import attachment_max_bytes, attachment_upload
from apps.conversations.services.cleaning import (
    ANONYMOUS_ID_RE,
    BODY_MAX_CHARS,
    CLIENT_ID_RE,
    DRAFT_MAX_CHARS,
    MAX_ATTACHMENTS_PER_MESSAGE,
    SERVER_CLIENT_ID_PREFIX,
    typing_draft,
)
from apps.conversations.services.conversations import (
    conversation_accept,
    conversation_assign,
    conversation_close,
    conversation_rate,
    conversation_reopen,
    conversation_route,
    conversation_start,
    conversation_transfer,
    conversation_update,
)
from apps.conversations.services.inbound import (
    Received,
    conversation_open_or_start,
    visitor_conversation_for_input,
    visitor_conversation_rate,
    visitor_conversation_read,
    visitor_message_receive,
)
from apps.conversations.services.messages import (
    SYSTEM_TEXTS,
    VISITOR_KINDS,
    MessageDraft,
    message_check,
    message_mark_read,
    message_send,
    message_store,
    note_add,
)
from apps.conversations.services.operators import (
    operator_conversation_act,
    operator_conversation_check,
    operator_conversation_read,
    operator_message_send,
)
from apps.conversations.services.sniffing import IMAGE_MAX_PIXELS, IMAGE_MAX_SIDE, IMAGE_TYPES
from apps.conversations.services.visitors import (
    VISIT_IDLE,
    page_view_record,
    visitor_identify,
    visitor_note_add,
    visitor_update,
)

OPEN_STATUSES = Conversation.OPEN_STATUSES

__all__ = [
    "ANONYMOUS_ID_RE",
    "BODY_MAX_CHARS",
    "CLIENT_ID_RE",
    "DRAFT_MAX_CHARS",
    "IMAGE_MAX_PIXELS",
    "IMAGE_MAX_SIDE",
    "IMAGE_TYPES",
    "MAX_ATTACHMENTS_PER_MESSAGE",
    "OPEN_STATUSES",
    "SERVER_CLIENT_ID_PREFIX",
    "SYSTEM_TEXTS",
    "VISITOR_KINDS",
    "VISIT_IDLE",
    "MessageDraft",
    "Received",
    "attachment_max_bytes",
    "attachment_upload",
    "conversation_accept",
    "conversation_assign",
    "conversation_close",
    "conversation_open_or_start",
    "conversation_rate",
    "conversation_reopen",
    "conversation_route",
    "conversation_start",
    "conversation_transfer",
    "conversation_update",
    "message_check",
    "message_mark_read",
    "message_send",
    "message_store",
    "note_add",
    "operator_conversation_act",
    "operator_conversation_check",
    "operator_conversation_read",
    "operator_message_send",
    "page_view_record",
    "typing_draft",
    "visitor_conversation_for_input",
    "visitor_conversation_rate",
    "visitor_conversation_read",
    "visitor_identify",
    "visitor_message_receive",
    "visitor_note_add",
    "visitor_update",
]
