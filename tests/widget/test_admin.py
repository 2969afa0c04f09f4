import pytest
from django_scopes import scopes_disabled

from apps.widget.models import WidgetSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def widget_rows(tenant, other_tenant):
    with scopes_disabled():
        return (
            WidgetSettings.objects.create(tenant=tenant, title="Acme widget"),
            WidgetSettings.objects.create(tenant=other_tenant, title="Globex widget"),
        )


def test_tenant_admin_edits_their_widget_with_a_preview_link(client, owner, tenant, widget_rows):
    client.force_login(owner.user)
    mine, _theirs = widget_rows
    response = client.get(f"/admin/widget/widgetsettings/{mine.pk}/change/")
    assert response.status_code == 200
    assert f"/widget/preview/{tenant.widget_key}/" in response.content.decode()


def test_another_tenants_widget_settings_are_404_in_the_admin(client, owner, widget_rows):
    client.force_login(owner.user)
    _mine, theirs = widget_rows
    assert client.get(f"/admin/widget/widgetsettings/{theirs.pk}/change/").status_code == 404
    listing = client.get("/admin/widget/widgetsettings/").content.decode()
    assert "Globex" not in listing


def test_one_settings_row_per_tenant(client, owner, widget_rows):
    client.force_login(owner.user)
    assert client.get("/admin/widget/widgetsettings/add/").status_code == 403


def test_operators_cannot_edit_the_widget(client, operator, widget_rows):
    client.force_login(operator.user)
    response = client.get(f"/admin/widget/widgetsettings/{widget_rows[0].pk}/change/")
    assert response.status_code in (302, 403, 404)
