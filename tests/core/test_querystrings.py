"""A NUL in a path or query string is refused before any view runs (PostgreSQL refuses NUL in text)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/canned/cannedreply/?q=a%00b",
        "/admin/conversations/conversation/?scope=%00",
        "/admin/?x=%00",
        "/app/?lang=%00",
        "/widget/config/pk_%00.json",
        "/widget/frame/pk_abc/?lang=%00",
        "/accounts/login/?next=%00",
    ],
)
def test_a_nul_in_a_page_address_is_a_plain_400(client, owner, url):
    client.force_login(owner.user)
    response = client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")


def test_the_dashboard_api_answers_a_nul_in_its_own_error_shape(client, operator):
    client.force_login(operator.user)
    response = client.get("/app/api/canned/", {"lang": "\x00"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_the_widget_api_answers_a_nul_in_its_own_error_shape(client):
    response = client.get("/widget/api/messages?conversation=%00")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_frame"


def test_a_nul_in_a_query_key_is_refused_too(client):
    assert client.get("/widget/api/messages?a%00=1").status_code == 400


def test_an_address_without_nul_passes_through(client):
    assert client.get("/widget/config/pk_unknown.json?lang=ru").status_code == 404
