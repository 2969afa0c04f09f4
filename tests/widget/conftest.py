import pytest

from apps.conversations import events
from apps.conversations.tokens import visitor_token_issue


class _SilentLayer:
    async def group_send(self, group, message):
        return None


@pytest.fixture(autouse=True)
def _no_channel_layer(monkeypatch):
    """Widget tests check HTTP answers and rows; broadcasts are the conversation tests' business."""
    monkeypatch.setattr(events, "get_channel_layer", lambda: _SilentLayer())


@pytest.fixture
def visitor_auth(tenant, visitor):
    return {"HTTP_AUTHORIZATION": "Bearer " + visitor_token_issue(tenant=tenant, visitor=visitor)}


@pytest.fixture
def other_visitor_auth(other_tenant, other_visitor):
    return {"HTTP_AUTHORIZATION": "Bearer " + visitor_token_issue(tenant=other_tenant, visitor=other_visitor)}
