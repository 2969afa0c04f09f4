"""Canned replies stay with whoever may see them, over HTTP and over the operator socket.

The socket carries one canned frame, `canned.changed`, to the operator's own sockets only
(their other tabs reload hotkeys and personal replies over HTTP). Another operator, another
department and another tenant hear nothing of my personal replies, and an admin's department
reply is announced to no one; over HTTP each sees only what visible_replies allows.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django_scopes import scopes_disabled

from apps.accounts.models import Role
from apps.canned import services
from apps.canned.models import Scope
from tests import factories
from tests.realtime.conftest import session_cookie

pytestmark = pytest.mark.usefixtures("live_db")


@pytest.fixture
def team(tenant, other_tenant, operator):
    """me (operator, in Sales), a colleague in Sales, a Support operator, another tenant's operator."""
    with scopes_disabled():
        sales = factories.DepartmentFactory(tenant=tenant, name="Sales")
        support = factories.DepartmentFactory(tenant=tenant, name="Support")
        colleague = factories.MembershipFactory(tenant=tenant, role=Role.OPERATOR, user__email="colleague@acme.test")
        supporter = factories.MembershipFactory(tenant=tenant, role=Role.OPERATOR, user__email="support@acme.test")
        stranger = factories.MembershipFactory(
            tenant=other_tenant, role=Role.OPERATOR, user__email="operator@globex.test"
        )
        sales.members.add(operator, colleague)
        support.members.add(supporter)
    return {"me": operator, "colleague": colleague, "supporter": supporter, "stranger": stranger, "sales": sales}


async def _socket(sockets, membership):
    cookie = await database_sync_to_async(session_cookie)(membership.user)
    socket, hello = await sockets("/ws/app/", cookie=cookie)
    assert hello["type"] == "hello", hello
    return socket


def _search(membership, query: str) -> list[str]:
    client = Client()
    client.force_login(membership.user)
    response = client.get("/app/api/canned/", {"q": query})
    assert response.status_code == 200, response.content
    return sorted(reply["shortcut"] for reply in response.json()["replies"])


async def test_my_canned_changes_reach_only_my_own_tabs(sockets, tenant, team):
    me = team["me"]
    tab_a, tab_b = await _socket(sockets, me), await _socket(sockets, me)
    others = {name: await _socket(sockets, team[name]) for name in ("colleague", "supporter", "stranger")}

    mine = await database_sync_to_async(services.canned_reply_create)(
        tenant=tenant, scope=Scope.PERSONAL, owner=me, shortcut="mysecret", title="Secret", text="Only mine"
    )
    for tab in (tab_a, tab_b):
        assert await tab.recv_type("canned.changed") == {"type": "canned.changed", "operator": me.pk, "what": "replies"}

    await database_sync_to_async(services.canned_hotkey_set)(tenant=tenant, membership=me, slot=1, reply=mine)
    for tab in (tab_a, tab_b):
        assert await tab.recv_type("canned.changed") == {"type": "canned.changed", "operator": me.pk, "what": "hotkeys"}

    await database_sync_to_async(services.canned_reply_update)(tenant=tenant, reply=mine, text="Still only mine")
    await database_sync_to_async(services.canned_reply_delete)(tenant=tenant, reply=mine)
    assert [f["what"] for f in await tab_a.until("canned.changed", count=2) if f["type"] == "canned.changed"] == [
        "replies",
        "replies",
    ]

    # An admin's department reply is announced to no one, not even its department.
    await database_sync_to_async(services.canned_reply_create)(
        tenant=tenant, scope=Scope.DEPARTMENT, department=team["sales"], shortcut="salesonly", title="S", text="S"
    )
    assert [f for f in await tab_a.drain() if f["type"].startswith("canned")] == []
    for name, socket in others.items():
        heard = [frame for frame in await socket.drain() if frame["type"].startswith("canned")]
        assert heard == [], name


async def test_over_http_each_operator_sees_only_the_replies_they_may(tenant, other_tenant, team):
    me = team["me"]

    def build():
        services.canned_reply_create(tenant=tenant, shortcut="zz-all", title="All", text="For everyone")
        services.canned_reply_create(
            tenant=tenant, scope=Scope.DEPARTMENT, department=team["sales"], shortcut="zz-sales", title="S", text="S"
        )
        services.canned_reply_create(
            tenant=tenant, scope=Scope.PERSONAL, owner=me, shortcut="zz-mine", title="M", text="M"
        )
        services.canned_reply_create(tenant=other_tenant, shortcut="zz-globex", title="G", text="G")

    await database_sync_to_async(build)()
    seen = {name: await database_sync_to_async(_search)(team[name], "zz") for name in team if name != "sales"}
    assert seen == {
        "me": ["zz-all", "zz-mine", "zz-sales"],
        "colleague": ["zz-all", "zz-sales"],
        "supporter": ["zz-all"],
        "stranger": ["zz-globex"],
    }
