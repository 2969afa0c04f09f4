"""The operators' email endpoints answer another tenant's ids exactly like missing ones."""

from django.urls import reverse
from django_scopes import scopes_disabled

from apps.conversations.models import Message
from tests.emailbridge.mail import build


def test_the_full_text_of_an_email_is_one_click_away_for_its_tenant_only(
    client, tenant, other_tenant, operator, other_operator, receive
):
    text = "Thanks!\n\nOn Mon, 30 Nov 2026 at 10:00, Shop <shop@example.com> wrote:\n> Your order shipped.\n"
    row = receive(build(to=tenant.inbound_address, text=text), to=tenant.inbound_address)
    with scopes_disabled():
        message = Message.objects.get(pk=row.chat_message_id)
    assert message.body == "Thanks!" and message.data["email"]["quoted"] is True
    url = reverse("emailbridge:full_text", args=[message.pk])

    assert client.get(url).status_code == 403
    client.force_login(operator.user)
    response = client.get(url)
    assert response.status_code == 200
    assert "Your order shipped." in response.json()["text"]
    client.force_login(other_operator.user)
    response = client.get(url)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
