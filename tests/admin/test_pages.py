"""Every admin page renders for the people who may open it, at a fixed number of queries."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from tests.admin.test_isolation import admin_url, factory_for, tenant_owned_model_admins

ALL_ADMINS = sorted(admin.site._registry, key=lambda model: model._meta.label)


@pytest.mark.parametrize("model", ALL_ADMINS, ids=lambda model: model._meta.label)
def test_the_superuser_opens_every_changelist_and_add_page(model, superuser_client, tenant):
    assert superuser_client.get(admin_url(model, "changelist")).status_code == 200
    add = superuser_client.get(admin_url(model, "add"))
    assert add.status_code in (200, 403)
    if add.status_code == 200 and model in tenant_owned_model_admins():
        # A superuser works across tenants: a new row names its tenant.
        assert "for_tenant" in add.context["adminform"].form.fields


def test_the_owner_opens_every_page_the_index_offers(owner_client):
    index = owner_client.get(reverse("admin:index"))
    offered = [model for app in index.context["app_list"] for model in app["models"]]
    assert offered
    for model in offered:
        for url in (model["admin_url"], model.get("add_url")):
            if url:
                response = owner_client.get(url)
                assert response.status_code == 200, url
                adminform = response.context.get("adminform")
                if adminform is not None:
                    # The tenant of a new row is the admin's own, never chosen.
                    assert "for_tenant" not in adminform.form.fields, url


def count_changelist_queries(client, model) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(admin_url(model, "changelist")).status_code == 200
    return len(queries)


def one_row_per_tenant(model) -> bool:
    return any(tuple(getattr(c, "fields", ())) == ("tenant",) for c in model._meta.constraints)


@pytest.mark.parametrize("model", tenant_owned_model_admins(), ids=lambda model: model._meta.label)
def test_every_changelist_costs_the_same_queries_for_few_rows_or_more(model, owner_client, tenant):
    factory = factory_for(model)
    if not one_row_per_tenant(model):
        with scopes_disabled():
            factory(tenant=tenant)
    few = count_changelist_queries(owner_client, model)
    with scopes_disabled():
        for _ in range(1 if one_row_per_tenant(model) else 3):
            factory(tenant=tenant)
    assert count_changelist_queries(owner_client, model) == few


@pytest.mark.parametrize("model", tenant_owned_model_admins(), ids=lambda model: model._meta.label)
def test_every_changelist_costs_the_superuser_the_same_queries_across_tenants(
    model, superuser_client, tenant, other_tenant
):
    factory = factory_for(model)
    with scopes_disabled():
        factory(tenant=tenant)
    one = count_changelist_queries(superuser_client, model)
    with scopes_disabled():
        factory(tenant=other_tenant)
        if not one_row_per_tenant(model):
            factory(tenant=tenant)
            factory(tenant=other_tenant)
    assert count_changelist_queries(superuser_client, model) == one
