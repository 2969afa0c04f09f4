import pytest
from django_scopes import scopes_disabled

from apps.accounts.models import Role
from apps.conversations import events as conversation_events
from apps.conversations import services as conversation_services
from apps.routing.models import RoutingSettings
from apps.routing.presence import presence_set
from tests import factories
from tests.conversations.conftest import RecordingLayer


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def layer(monkeypatch):
    """Records every broadcast (conversation and routing events share one channel-layer hop)."""
    recording = RecordingLayer()
    monkeypatch.setattr(conversation_events, "get_channel_layer", lambda: recording)
    return recording


@pytest.fixture
def publish(django_capture_on_commit_callbacks, layer):
    """`with publish():` runs the block's on-commit callbacks (events and routing run on commit)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def make_operator(tenant):
    """`make_operator(limit=2, online=True)`: an operator of the tenant, online unless told otherwise."""
    counter = {"n": 0}

    def make(*, limit=2, online=True, tenant_=None):
        counter["n"] += 1
        owner_tenant = tenant_ or tenant
        with scopes_disabled():
            membership = factories.MembershipFactory(
                tenant=owner_tenant,
                role=Role.OPERATOR,
                max_concurrent_chats=limit,
                user__email=f"op{counter['n']}-{owner_tenant.slug}@example.test",
            )
            # Past the newcomer default that routing applies on creation.
            type(membership).objects.filter(pk=membership.pk).update(max_concurrent_chats=limit)
            membership.max_concurrent_chats = limit
        if online:
            presence_set(tenant=owner_tenant, membership=membership, status="online")
        return membership

    return make


@pytest.fixture
def start_chat(tenant, publish):
    """`start_chat()`: a new visitor's conversation, started as the widget would (routing runs on commit)."""

    def start(*, visitor=None, department=None, tenant_=None):
        owner_tenant = tenant_ or tenant
        with scopes_disabled():
            visitor = visitor or factories.VisitorFactory(tenant=owner_tenant)
        with publish():
            return conversation_services.conversation_start(tenant=owner_tenant, visitor=visitor, department=department)

    return start


@pytest.fixture
def routing_settings(tenant):
    def configure(**fields):
        with scopes_disabled():
            row, _ = RoutingSettings.objects.get_or_create(tenant=tenant)
            for name, value in fields.items():
                setattr(row, name, value)
            row.save()
        return row

    return configure
