"""Routing: who gets a new chat, when, and what the visitor sees while waiting.

Invariants:
- Every routing decision of a tenant (offer, accept, expiry, backlog) runs under that
  tenant's routing lock (`locks.tenant_routing_lock`, a PostgreSQL advisory lock held to the
  end of the transaction), so two routers never give one operator more than their limit.
- Every deadline is a timestamp column; `QueueEntry.due_at` is the earliest of an entry's
  deadlines, so the sweeper reads one partial index (`due_at IS NOT NULL`) instead of
  scanning the waiting chats.
- `QueueEntry.position` is the place in its department's queue (the chats without a department
  form one queue); it changes only with that waiting set. `told_position` is what the visitor
  was last told: a new chat hears its place at once, the chats behind one that left hear their
  new place from the next sweep, once per tick however many chats left meanwhile.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.tenancy import TenantOwned


class Strategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_BUSY = "least_busy", _("Least busy")
    BROADCAST = "broadcast", _("Offer to everyone at once")


class RoutingSettings(TenantOwned):
    """A tenant's routing rules. A tenant without a row gets `defaults_for(tenant)` (an unsaved row)."""

    strategy = models.CharField(_("routing"), max_length=16, choices=Strategy.choices, default=Strategy.ROUND_ROBIN)
    offer_seconds = models.PositiveSmallIntegerField(
        _("offer expires after (seconds)"), default=15, validators=[MinValueValidator(5), MaxValueValidator(600)]
    )
    missed_offers_to_pause = models.PositiveSmallIntegerField(
        _("pause an operator after this many missed offers in a row"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
    )
    offer_rounds = models.PositiveSmallIntegerField(
        _("offer rounds"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("How many times a chat goes round all available operators before it waits in the queue."),
    )
    default_chat_limit = models.PositiveSmallIntegerField(
        _("concurrent chats for new operators"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=_("The limit an operator gets when they join; change it per operator afterwards."),
    )
    grace_seconds = models.PositiveSmallIntegerField(
        _("offline after (seconds without a dashboard)"),
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
    )
    queue_message = models.CharField(
        _("queue message"),
        max_length=300,
        blank=True,
        help_text=_("Shown to visitors waiting in the queue. Empty uses the standard text."),
    )
    retention_seconds = models.PositiveSmallIntegerField(
        _("retention phrase after (seconds)"), default=30, validators=[MinValueValidator(5), MaxValueValidator(3600)]
    )
    retention_phrase = models.CharField(
        _("retention phrase"),
        max_length=500,
        blank=True,
        help_text=_("Sent once when nobody has accepted the chat in time. Empty uses the standard text."),
    )
    queue_timeout_seconds = models.PositiveIntegerField(
        _("missed after (seconds in the queue)"),
        default=600,
        validators=[MinValueValidator(30), MaxValueValidator(86400)],
    )
    sla_first_response_seconds = models.PositiveIntegerField(
        _("first response target (business seconds)"), default=120, validators=[MaxValueValidator(7 * 86400)]
    )
    sla_next_response_seconds = models.PositiveIntegerField(
        _("next response target (business seconds)"),
        default=300,
        validators=[MaxValueValidator(7 * 86400)],
        help_text=_("From a visitor's message after an operator's reply to the next reply. 0: no target."),
    )
    business_hours_enabled = models.BooleanField(
        _("use business hours"),
        default=False,
        help_text=_("Off: always open. On: the weekly schedule and holidays below, in the tenant's time zone."),
    )

    class Meta:
        verbose_name = _("routing settings")
        verbose_name_plural = _("routing settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="routingsettings_one_per_tenant")]

    def __str__(self) -> str:
        return str(_("Routing settings"))

    @classmethod
    def defaults_for(cls, tenant) -> RoutingSettings:
        return cls(tenant=tenant)


class DepartmentRouting(TenantOwned):
    """A department's own strategy and the page addresses that send visitors to it."""

    department = models.OneToOneField(
        "accounts.Department", on_delete=models.CASCADE, related_name="routing", verbose_name=_("department")
    )
    strategy = models.CharField(
        _("routing"), max_length=16, choices=Strategy.choices, blank=True, help_text=_("Empty: the tenant's routing.")
    )
    url_patterns = models.TextField(
        _("page addresses"),
        blank=True,
        help_text=_("One per line: a chat started on a page whose address contains this text goes here."),
    )
    sla_first_response_seconds = models.PositiveIntegerField(
        _("first response target (business seconds)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(7 * 86400)],
        help_text=_("Empty: the tenant's target."),
    )
    sla_next_response_seconds = models.PositiveIntegerField(
        _("next response target (business seconds)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(7 * 86400)],
        help_text=_("Empty: the tenant's target."),
    )

    class Meta:
        verbose_name = _("department routing")
        verbose_name_plural = _("department routing")

    def __str__(self) -> str:
        return str(self.department)

    @property
    def pattern_list(self) -> list[str]:
        return [line.strip().lower() for line in self.url_patterns.splitlines() if line.strip()]


class WeeklyHours(TenantOwned):
    """One opening interval on one weekday, in the tenant's time zone (several per day allowed)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"), help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        ordering = ["weekday", "opens"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Holiday(TenantOwned):
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["tenant", "date"], name="holiday_unique_date")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class OperatorRouting(TenantOwned):
    """What routing knows of one operator beyond their status (apps.dashboard.OperatorStatus)."""

    class Reason(models.TextChoices):
        NONE = "", _("Set by the operator")
        MISSED_OFFERS = "missed_offers", _("Missed offers")
        DISCONNECTED = "disconnected", _("Dashboard closed")

    membership = models.OneToOneField(
        "accounts.Membership", on_delete=models.CASCADE, related_name="routing", verbose_name=_("operator")
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices, blank=True)
    reason_detail = models.JSONField(default=dict, blank=True)
    # The status before the system changed it: coming back restores it.
    previous_status = models.CharField(_("previous status"), max_length=16, blank=True)
    missed_in_row = models.PositiveSmallIntegerField(_("missed offers in a row"), default=0)
    last_offered_at = models.DateTimeField(_("last offer"), null=True, blank=True)
    # Set when the last dashboard socket went away: offline at this time unless one comes back.
    offline_due_at = models.DateTimeField(_("offline at"), null=True, blank=True)

    class Meta:
        verbose_name = _("operator routing")
        verbose_name_plural = _("operator routing")
        indexes = [
            models.Index(
                fields=["offline_due_at"], name="oprouting_offline_due", condition=Q(offline_due_at__isnull=False)
            )
        ]

    def __str__(self) -> str:
        return str(self.membership)


class QueueEntry(TenantOwned):
    """A conversation's way through routing: queued, offered, taken (or gone). One per conversation."""

    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="routing", verbose_name=_("conversation")
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    waiting = models.BooleanField(_("waiting"), default=True)
    enqueued_at = models.DateTimeField(_("queued"), default=timezone.now)
    position = models.PositiveIntegerField(_("position"), default=0)
    # The place the visitor was last told; the sweep tells those whose `position` moved since, once a tick.
    told_position = models.PositiveIntegerField(default=0)
    offered_to = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    broadcast = models.BooleanField(default=False)
    offer_round = models.PositiveSmallIntegerField(default=1)
    # Operators who let this chat's offer expire in the current round: not offered again in it.
    tried = models.JSONField(default=list, blank=True)
    retention_due_at = models.DateTimeField(null=True, blank=True)
    retention_sent_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    sla_breached_at = models.DateTimeField(_("first response breached"), null=True, blank=True)
    # The next-response clock: started by a visitor's message after an operator's reply (the
    # conversation's `awaiting_reply_since`), stopped by the next public reply. One cycle at a time.
    next_started_at = models.DateTimeField(_("awaiting a reply since"), null=True, blank=True)
    next_due_at = models.DateTimeField(_("next response due"), null=True, blank=True)
    next_breached_at = models.DateTimeField(_("next response breached"), null=True, blank=True)
    next_breaches = models.PositiveIntegerField(_("next responses overdue"), default=0)
    missed_due_at = models.DateTimeField(null=True, blank=True)
    # The earliest of the deadlines above that is still pending: the only column the sweeper reads.
    due_at = models.DateTimeField(null=True, blank=True)
    taken_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    taken_by = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("queue entry")
        verbose_name_plural = _("queue entries")
        indexes = [
            models.Index(fields=["tenant", "enqueued_at"], name="queue_waiting", condition=Q(waiting=True)),
            # Waiting chats whose place moved since they were told: what the positions sweep reads.
            models.Index(
                fields=["tenant"],
                name="queue_position_untold",
                condition=Q(waiting=True) & ~Q(position=F("told_position")),
            ),
            # A department's queue: its length and the places behind a chat that leaves it.
            models.Index(
                fields=["tenant", "department", "position"], name="queue_department", condition=Q(waiting=True)
            ),
            models.Index(fields=["due_at"], name="queue_due", condition=Q(due_at__isnull=False)),
            models.Index(fields=["tenant", "taken_at"], name="queue_taken", condition=Q(taken_at__isnull=False)),
            models.Index(fields=["offered_to"], name="queue_offered", condition=Q(offered_to__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"#{self.conversation_id}"

    def refresh_due(self) -> None:
        """Recompute `due_at` from the pending deadlines (call after changing any of them)."""
        pending = [self.offer_expires_at, self.missed_due_at]
        if self.retention_sent_at is None:
            pending.append(self.retention_due_at)
        if self.sla_breached_at is None:
            pending.append(self.sla_due_at)
        if self.next_breached_at is None:
            pending.append(self.next_due_at)
        pending = [when for when in pending if when is not None]
        self.due_at = min(pending) if pending else None


class Offer(TenantOwned):
    """One offer of a chat to one operator, and how it ended."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        EXPIRED = "expired", _("Expired")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="offers", verbose_name=_("conversation")
    )
    membership = models.ForeignKey(
        "accounts.Membership", on_delete=models.CASCADE, related_name="offers", verbose_name=_("operator")
    )
    offered_at = models.DateTimeField(_("offered"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["-offered_at"]
        indexes = [
            models.Index(fields=["membership"], name="offer_pending", condition=Q(outcome="pending")),
            models.Index(fields=["conversation", "-offered_at"], name="offer_by_conversation"),
        ]

    def __str__(self) -> str:
        return f"#{self.conversation_id} → {self.membership_id}: {self.outcome}"


class MissedChat(TenantOwned):
    class Reason(models.TextChoices):
        QUEUE_TIMEOUT = "queue_timeout", _("Timed out in the queue")
        VISITOR_LEFT = "visitor_left", _("Visitor left before an answer")
        CLOSED_UNANSWERED = "closed_unanswered", _("Closed unanswered")

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+", verbose_name=_("conversation")
    )
    reason = models.CharField(_("reason"), max_length=24, choices=Reason.choices)
    waited_seconds = models.PositiveIntegerField(_("waited (seconds)"), default=0)
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("missed chat")
        verbose_name_plural = _("missed chats")
        ordering = ["-recorded_at"]
        constraints = [models.UniqueConstraint(fields=["conversation", "reason"], name="missedchat_once_per_reason")]

    def __str__(self) -> str:
        return f"#{self.conversation_id}: {self.get_reason_display()}"
