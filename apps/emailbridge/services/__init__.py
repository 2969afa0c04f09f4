"""Every state change of the email bridge: inbound (receive, process, promote) and outbound (send).

Keyword-only functions that take the tenant; the SMTP server, the provider webhooks, the
Celery tasks and the admin call them and write nothing themselves.
"""

from apps.emailbridge.services.inbound import (  # noqa: F401
    inbound_email_process,
    inbound_email_promote,
    inbound_email_receive,
    inbound_email_rerun,
    inbound_emails_sweep,
)
from apps.emailbridge.services.outbound import (  # noqa: F401
    acknowledgement_queue,
    email_conversation_start,
    email_reply_queue,
    outbound_email_fail,
    outbound_email_send,
    outbound_emails_sweep,
    transcript_queue,
)
