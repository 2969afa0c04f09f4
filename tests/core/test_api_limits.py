"""The dashboard's JSON API has a budget per person; the rest of the team keeps working."""

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def test_a_person_over_the_api_budget_gets_429_with_retry_after_and_a_colleague_does_not(
    client, settings, operator, owner
):
    settings.PARLEY_OPERATOR_API_PER_MINUTE = 5
    client.force_login(operator.user)
    answers = [client.get("/app/api/team").status_code for _ in range(8)]
    assert answers[:5] == [200] * 5 and set(answers[5:]) == {429}
    refused = client.get("/app/api/conversations")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused["Retry-After"]) <= 60
    # Pages are not counted, nor is a colleague.
    assert client.get("/app/").status_code == 200
    client.force_login(owner.user)
    assert client.get("/app/api/team").status_code == 200
