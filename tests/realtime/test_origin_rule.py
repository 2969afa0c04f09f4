"""One visitor authentication, one Origin rule: the widget's socket and its HTTP API refuse and
accept the same requests for the same Origin (`apps.conversations.tokens.visitor_authenticate`)."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from tests.realtime.conftest import PARLEY_ORIGIN

ORIGINS = {
    "an allowed site": ("https://shop.example", True),
    "a subdomain of an allowed site": ("https://www.shop.example", False),
    "Parley's own (the chat iframe)": (PARLEY_ORIGIN, True),
    "another site": ("https://evil.example", False),
    "an opaque origin": ("null", False),
    "no Origin at all": (None, False),
    "a malformed origin": ("https://shop.example/path?x", False),
}


def _http_accepts(token: str, origin: str | None) -> bool:
    headers = {"Authorization": f"Bearer {token}"}
    if origin is not None:
        headers["Origin"] = origin
    response = Client().post(
        "/widget/api/pageview",
        data=json.dumps({"url": "https://shop.example/"}),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code in (200, 403), response.content
    return response.status_code == 200


@pytest.mark.parametrize(("origin", "accepted"), ORIGINS.values(), ids=ORIGINS.keys())
async def test_the_socket_and_the_http_api_answer_the_same_origin_alike(
    sockets, tenant, visitor_token, origin, accepted
):
    tenant.allowed_domains = "shop.example"
    await database_sync_to_async(tenant.save)()
    socket, first = await sockets(f"/ws/widget/?token={visitor_token}", origin=origin)
    socket_accepts = first["type"] == "hello"
    if not socket_accepts:
        assert first == {"type": "__closed__", "code": 4403}
    http_accepts = await database_sync_to_async(_http_accepts)(visitor_token, origin)
    assert (socket_accepts, http_accepts) == (accepted, accepted)


async def test_a_forged_token_is_refused_alike(sockets, tenant):
    socket, first = await sockets("/ws/widget/?token=forged", origin="https://shop.example")
    assert first == {"type": "__closed__", "code": 4401}
    response = await database_sync_to_async(
        lambda: Client().post(
            "/widget/api/pageview",
            data="{}",
            content_type="application/json",
            headers={"Authorization": "Bearer forged", "Origin": "https://shop.example"},
        )
    )()
    assert response.status_code == 401
