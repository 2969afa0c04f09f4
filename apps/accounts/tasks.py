"""Background work for accounts: thin tasks that take ids and call into the app."""

from __future__ import annotations

import zoneinfo

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation

from apps.accounts.models import Invitation, Tenant
from apps.core.tasks import TransactionAwareTask
from apps.core.tenancy import tenant_task
from apps.core.text import clean_text


@shared_task(base=TransactionAwareTask, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
@tenant_task
def invitation_send_email(tenant: Tenant, invitation_id: int, language: str) -> None:
    """Email the invitation link; a retry after an SMTP failure sends the same link."""
    from apps.accounts.services import invitation_url

    invitation = Invitation.objects.select_related("invited_by").filter(pk=invitation_id).first()
    if invitation is None or invitation.accepted_at is not None or invitation.is_expired:
        return
    # The expiry is shown in the company's time zone, which is the invitee's clock too.
    with translation.override(language), timezone.override(zoneinfo.ZoneInfo(tenant.time_zone)):
        context = {
            "tenant": tenant,
            "inviter": invitation.invited_by,
            "role": invitation.get_role_display(),
            "url": invitation_url(invitation),
            "expires_at": invitation.expires_at,
            "time_zone": tenant.time_zone,
        }
        subject = clean_text(render_to_string("accounts/email/invitation_subject.txt", context), multiline=False)
        body = render_to_string("accounts/email/invitation_message.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
