"""Every tenant-owned model admin, tried by tenant A's owner with tenant B's ids.

The list of admins comes from `admin.site._registry`, so a model admin added later is
covered without touching this file: it only needs a `<Model>Factory` in tests/factories.py
that takes `tenant=`.
"""

import pytest
from django.contrib import admin
from django.core import mail
from django.forms.models import model_to_dict
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.accounts.models import Membership
from apps.conversations.models import Conversation
from apps.core.tenancy import TenantOwned
from tests import factories


def factory_for(model):
    factory = getattr(factories, f"{model.__name__}Factory", None)
    assert factory is not None, f"add {model.__name__}Factory (taking tenant=) to tests/factories.py"
    return factory


def tenant_owned_model_admins():
    return sorted(
        (model for model in admin.site._registry if issubclass(model, TenantOwned)),
        key=lambda model: model._meta.label,
    )


def relation_fields_to(model):
    """(source model, field name) of every relation on a registered model that points to `model`."""
    for source in admin.site._registry:
        for field in source._meta.get_fields():
            if field.is_relation and not field.auto_created and field.related_model is model:
                yield source, field.name


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def snapshot(obj):
    with scopes_disabled():
        fresh = type(obj).objects.filter(pk=obj.pk).first()
        return None if fresh is None else model_to_dict(fresh, fields=[f.name for f in fresh._meta.concrete_fields])


def test_every_tenant_owned_model_admin_is_a_tenant_model_admin():
    """The fences (tenant filter, 404 for other ids, tenant on new rows) live in that base class."""
    from apps.core.admin import TenantInlineMixin, TenantModelAdmin

    stray = [
        model._meta.label
        for model in tenant_owned_model_admins()
        if not isinstance(admin.site._registry[model], TenantModelAdmin)
    ]
    stray += [
        inline.__name__
        for model_admin in admin.site._registry.values()
        for inline in model_admin.inlines
        if issubclass(inline.model, TenantOwned) and not issubclass(inline, TenantInlineMixin)
    ]
    assert stray == []


def test_tenant_owned_admins_are_found():
    models = tenant_owned_model_admins()
    assert Conversation in models and Membership in models


@pytest.mark.parametrize("model", tenant_owned_model_admins(), ids=lambda model: model._meta.label)
def test_another_tenants_row_is_invisible_in_every_admin_view(model, owner_client, tenant, other_tenant):
    factory = factory_for(model)
    with scopes_disabled():
        mine = factory(tenant=tenant)
        theirs = factory(tenant=other_tenant)
    before = snapshot(theirs)

    changelist = owner_client.get(admin_url(model, "changelist"))
    assert changelist.status_code == 200
    listed = {row.pk for row in changelist.context["cl"].result_list}
    assert mine.pk in listed
    assert theirs.pk not in listed

    assert owner_client.get(admin_url(model, "change", mine.pk)).status_code == 200
    assert owner_client.get(admin_url(model, "change", theirs.pk)).status_code == 404
    assert owner_client.post(admin_url(model, "change", theirs.pk), {}).status_code == 404
    assert owner_client.get(admin_url(model, "delete", theirs.pk)).status_code == 404
    assert owner_client.post(admin_url(model, "delete", theirs.pk), {"post": "yes"}).status_code == 404
    assert owner_client.get(admin_url(model, "history", theirs.pk)).status_code == 404
    # Answered exactly like an id that never existed.
    assert owner_client.get(admin_url(model, "change", 999_999)).status_code == 404

    for source, field_name in relation_fields_to(model):
        if not admin.site._registry[model].search_fields:
            continue
        response = owner_client.get(
            reverse("admin:autocomplete"),
            {"app_label": source._meta.app_label, "model_name": source._meta.model_name, "field_name": field_name},
        )
        assert response.status_code == 200, (source, field_name)
        ids = {row["id"] for row in response.json()["results"]}
        assert str(mine.pk) in ids, (source, field_name)
        assert str(theirs.pk) not in ids, (source, field_name)

    action_form = changelist.context["action_form"]
    offered = [name for name, _label in action_form.fields["action"].choices if name] if action_form else []
    for action in [*offered, "delete_selected"]:
        owner_client.post(
            admin_url(model, "changelist"),
            {"action": action, "_selected_action": [theirs.pk], "post": "yes", "index": 0},
        )
    assert snapshot(theirs) == before
    assert mail.outbox == []
