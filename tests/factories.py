"""Factories build rows with scopes disabled, as fixtures; the code under test runs scoped."""

import datetime
from datetime import timedelta

import factory
from django.utils import timezone

from apps.accounts.models import Department, Invitation, Membership, Role, Tenant, User
from apps.conversations.models import Conversation, Message, Visitor, VisitorNote
from apps.invoices import keys


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Sequence(lambda n: f"User {n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OPERATOR


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Department {n}")


class VisitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visitor

    tenant = factory.SubFactory(TenantFactory)
    anonymous_id = factory.Sequence(lambda n: f"anon-{n:08d}")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    tenant = factory.SubFactory(TenantFactory)
    visitor = factory.SubFactory(VisitorFactory, tenant=factory.SelfAttribute("..tenant"))
    created_at = factory.LazyFunction(timezone.now)


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.OPERATOR
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class VisitorNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VisitorNote

    tenant = factory.SubFactory(TenantFactory)
    visitor = factory.SubFactory(VisitorFactory, tenant=factory.SelfAttribute("..tenant"))
    body = factory.Sequence(lambda n: f"Note {n}")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    tenant = factory.SubFactory(TenantFactory)
    conversation = factory.SubFactory(ConversationFactory, tenant=factory.SelfAttribute("..tenant"))
    seq = factory.Sequence(lambda n: n + 1)
    author_type = Message.Author.VISITOR
    body = factory.Sequence(lambda n: f"Message {n}")
    client_id = factory.Sequence(lambda n: f"client-{n}")


class WidgetSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "widget.WidgetSettings"

    tenant = factory.SubFactory(TenantFactory)


class IdentitySettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "identity.IdentitySettings"

    tenant = factory.SubFactory(TenantFactory)


class InvoiceSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "invoices.InvoiceSettings"

    tenant = factory.SubFactory(TenantFactory)
    legal_name = factory.LazyAttribute(lambda o: f"{o.tenant.name} Ltd")


class PaymentAccountFactory(factory.django.DjangoModelFactory):
    """One account per provider and tenant: a fourth call for a tenant returns an existing one."""

    class Meta:
        model = "invoices.PaymentAccount"
        django_get_or_create = ("tenant", "provider")

    tenant = factory.SubFactory(TenantFactory)
    provider = factory.Iterator(["bank_transfer", "stripe", "yookassa"])


class InvoiceFactory(factory.django.DjangoModelFactory):
    """A sent invoice of 10.00 EUR with no lines (services build real ones)."""

    class Meta:
        model = "invoices.Invoice"

    tenant = factory.SubFactory(TenantFactory)
    conversation = factory.SubFactory(ConversationFactory, tenant=factory.SelfAttribute("..tenant"))
    visitor = factory.SelfAttribute("conversation.visitor")
    number = factory.Sequence(lambda n: n + 1)
    number_display = factory.LazyAttribute(lambda o: f"INV-{o.number}")
    currency = "EUR"
    status = "sent"
    provider = "bank_transfer"
    subtotal = 10
    total = 10
    due_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=14))


class ProviderEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "invoices.ProviderEvent"

    tenant = factory.SubFactory(TenantFactory)
    provider = "stripe"
    event_id = factory.Sequence(lambda n: f"evt_{n:08d}")
    event_type = "checkout.session.completed"
    outcome = "applied"
class CannedReplyFactory(factory.django.DjangoModelFactory):
    """Derived columns as services.py computes them (the tenant's language assumed English)."""

    class Meta:
        model = "canned.CannedReply"

    tenant = factory.SubFactory(TenantFactory)
    scope = "tenant"
    title = factory.Sequence(lambda n: f"Reply {n}")
    shortcut = factory.Sequence(lambda n: f"reply{n}")
    text = factory.Sequence(lambda n: f"Text of reply {n}")
    language = "en"
    sort_key = factory.LazyAttribute(lambda o: _collation_key(o.title))
    shortcut_folded = factory.LazyAttribute(lambda o: _folded(o.shortcut))
    search_text = factory.LazyAttribute(lambda o: "\n".join(_folded(part) for part in (o.shortcut, o.title, o.text)))


class CannedUsageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "canned.CannedUsage"

    tenant = factory.SubFactory(TenantFactory)
    reply = factory.SubFactory(CannedReplyFactory, tenant=factory.SelfAttribute("..tenant"))
    membership = factory.SubFactory(MembershipFactory, tenant=factory.SelfAttribute("..tenant"))
    count = 3


def _collation_key(text):
    from apps.canned.collation import collation_key

    return collation_key(text, "en")


def _folded(text):
    from apps.canned.collation import folded

    return folded(text)




class EmailSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "emailbridge.EmailSettings"

    tenant = factory.SubFactory(TenantFactory)


class InboundEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "emailbridge.InboundEmail"

    tenant = factory.SubFactory(TenantFactory)
    token = factory.Sequence(lambda n: f"inbound{n:08d}")
    source = "smtp"
    raw = factory.django.FileField(filename="message.eml", data=b"Subject: hello\r\n\r\nHi there\r\n")
    raw_size = 27
    subject = factory.Sequence(lambda n: f"Mail {n}")
    status = "filtered"


class OutboundEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "emailbridge.OutboundEmail"

    tenant = factory.SubFactory(TenantFactory)
    conversation = factory.SubFactory(ConversationFactory, tenant=factory.SelfAttribute("..tenant"))
    to_address = "customer@example.com"
    subject = "Re: hello"
    body = "Hello"
    message_id = factory.Sequence(lambda n: f"p.out{n}@inbound.localhost")


class TelegramBotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messengers.TelegramBot"

    tenant = factory.SubFactory(TenantFactory)
    token_encrypted = factory.LazyFunction(lambda: keys.encrypt("1:AAtest"))
    bot_id = factory.Sequence(lambda n: 7_100_000_000 + n)
    username = factory.Sequence(lambda n: f"factory_{n}_bot")
    webhook_id = factory.Sequence(lambda n: f"webhook-{n:08d}")
    secret_token = factory.Sequence(lambda n: f"secret-{n:08d}")


def _bot_of(chat) -> object:
    from apps.messengers.models import TelegramBot

    return TelegramBot.objects.filter(tenant=chat.tenant).first() or TelegramBotFactory(tenant=chat.tenant)


class TelegramChatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messengers.TelegramChat"

    tenant = factory.SubFactory(TenantFactory)
    bot = factory.LazyAttribute(_bot_of)
    chat_id = factory.Sequence(lambda n: 90_000 + n)
    visitor = factory.SubFactory(VisitorFactory, tenant=factory.SelfAttribute("..tenant"))
    name = factory.Sequence(lambda n: f"Telegram person {n}")


class VisitorLoginProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "visitorlogin.VisitorLoginProvider"

    tenant = factory.SubFactory(TenantFactory)
    provider = factory.Iterator(["google", "microsoft", "yandex", "vk", "mailru", "facebook", "apple"])
    client_id = factory.Sequence(lambda n: f"client-{n}")
    secret_encrypted = factory.LazyFunction(lambda: keys.encrypt("client-secret"))
class RoutingSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "routing.RoutingSettings"
        django_get_or_create = ("tenant",)

    tenant = factory.SubFactory(TenantFactory)


class WeeklyHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "routing.WeeklyHours"

    tenant = factory.SubFactory(TenantFactory)
    weekday = 0
    opens = datetime.time(9)
    closes = datetime.time(17)


class HolidayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "routing.Holiday"

    tenant = factory.SubFactory(TenantFactory)
    date = factory.Sequence(lambda n: datetime.date(2030, 1, 1) + datetime.timedelta(days=n))
    name = "Holiday"


class DepartmentRoutingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "routing.DepartmentRouting"

    tenant = factory.SubFactory(TenantFactory)
    department = factory.SubFactory(DepartmentFactory, tenant=factory.SelfAttribute("..tenant"))
    url_patterns = "/pricing"


class OperatorRoutingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "routing.OperatorRouting"

    tenant = factory.SubFactory(TenantFactory)
    membership = factory.SubFactory(MembershipFactory, tenant=factory.SelfAttribute("..tenant"))


class MissedChatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "routing.MissedChat"

    tenant = factory.SubFactory(TenantFactory)
    conversation = factory.SubFactory(ConversationFactory, tenant=factory.SelfAttribute("..tenant"))
    reason = "visitor_left"
