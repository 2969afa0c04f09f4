"""Who gets into the admin, and what a tenant admin sees of platform rows (tenants, users)."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.accounts.models import Invitation, Membership, Role, Tenant, User
from tests import factories
from tests.conftest import PASSWORD


def log_in_through_allauth(client, email, next_url):
    """The admin's login page hands over to allauth's (rate limits, two-factor step)."""
    handed_over = client.get(reverse("admin:login"), {"next": next_url})
    assert handed_over.status_code == 302
    login_url = handed_over["Location"]
    assert login_url.startswith(reverse("account_login"))
    return client.post(login_url, {"login": email, "password": PASSWORD})


def test_an_owner_without_is_staff_logs_in_to_the_admin_and_sees_the_index(client, owner):
    assert not owner.user.is_staff
    response = log_in_through_allauth(client, owner.user.email, "/admin/conversations/conversation/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/conversations/conversation/"
    index = client.get("/admin/")
    assert index.status_code == 200
    app_labels = {app["app_label"] for app in index.context["app_list"]}
    assert {"accounts", "conversations"} <= app_labels
    # Django's own admins (groups, allauth) stay with the platform.
    assert "auth" not in app_labels


def test_the_admin_login_form_never_takes_a_password(client, owner):
    response = client.post(reverse("admin:login"), {"username": owner.user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert client.get("/admin/").status_code == 302


def test_the_admin_login_refuses_a_foreign_next_url(client, owner):
    response = client.get(reverse("admin:login"), {"next": "https://evil.example/"})
    assert "evil.example" not in response["Location"]


def test_an_admin_role_gets_in_too(client, tenant):
    with scopes_disabled():
        admin_member = factories.MembershipFactory(tenant=tenant, role=Role.ADMIN)
    client.force_login(admin_member.user)
    assert client.get("/admin/").status_code == 200


def test_an_operator_logs_in_for_the_dashboard_but_the_admin_refuses_them(client, operator):
    log_in_through_allauth(client, operator.user.email, "/admin/")
    assert client.get("/admin/").status_code == 302
    assert client.get(reverse("admin:login")).status_code == 403


@pytest.mark.parametrize("path", ["/admin/", "/admin/conversations/conversation/", "/admin/accounts/tenant/"])
def test_a_logged_in_operator_is_refused(client, operator, path):
    client.force_login(operator.user)
    response = client.get(path, follow=True)
    assert response.status_code == 403
    assert response.redirect_chain[0][0].startswith(reverse("admin:login"))


def test_an_inactive_owner_membership_is_refused(client, owner):
    with scopes_disabled():
        owner.is_active = False
        owner.save()
    client.force_login(owner.user)
    assert client.get("/admin/").status_code == 302


def test_the_superuser_sees_both_tenants_and_filters_by_tenant(superuser_client, tenant, other_tenant):
    with scopes_disabled():
        mine = factories.ConversationFactory(tenant=tenant)
        theirs = factories.ConversationFactory(tenant=other_tenant)
    url = reverse("admin:conversations_conversation_changelist")
    response = superuser_client.get(url)
    assert response.status_code == 200
    assert {row.pk for row in response.context["cl"].result_list} == {mine.pk, theirs.pk}
    assert "tenant" in response.context["cl"].list_display
    filtered = superuser_client.get(url, {"tenant__id__exact": other_tenant.pk})
    assert {row.pk for row in filtered.context["cl"].result_list} == {theirs.pk}


def test_the_superuser_opens_any_tenants_row(superuser_client, other_tenant):
    with scopes_disabled():
        theirs = factories.DepartmentFactory(tenant=other_tenant)
    assert superuser_client.get(reverse("admin:accounts_department_change", args=[theirs.pk])).status_code == 200


def test_the_superuser_adds_a_department_to_a_chosen_tenant(superuser_client, other_tenant):
    response = superuser_client.post(
        reverse("admin:accounts_department_add"), {"for_tenant": other_tenant.pk, "name": "Billing"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    with scopes_disabled():
        from apps.accounts.models import Department

        assert Department.objects.get(name="Billing").tenant == other_tenant


def test_the_superuser_cannot_join_rows_of_two_tenants(superuser_client, tenant, other_owner):
    """Superusers see every tenant's choices; the form still refuses a member of another tenant."""
    response = superuser_client.post(
        reverse("admin:accounts_department_add"),
        {"for_tenant": tenant.pk, "name": "Billing", "members": [other_owner.pk]},
    )
    assert response.status_code == 200
    assert "members" in response.context["adminform"].form.errors


# --- tenants -----------------------------------------------------------------------


def test_a_tenant_admin_edits_their_own_company(owner_client, tenant):
    url = reverse("admin:accounts_tenant_change", args=[tenant.pk])
    page = owner_client.get(url)
    assert page.status_code == 200
    assert tenant.widget_key in page.content.decode()
    assert tenant.inbound_address in page.content.decode()
    response = owner_client.post(
        url,
        {
            "name": "Acme Inc",
            "time_zone": "Europe/Warsaw",
            "default_language": "pl",
            "allowed_domains": "acme.test",
            # Not offered to a tenant admin: ignored.
            "slug": "stolen",
            "is_active": "",
            "widget_key": "pk_forged",
        },
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.name, tenant.time_zone, tenant.default_language) == ("Acme Inc", "Europe/Warsaw", "pl")
    assert (tenant.slug, tenant.is_active) == ("acme", True)
    assert tenant.widget_key != "pk_forged"


def test_a_tenant_admin_sees_only_their_company_and_cannot_add_or_delete(owner_client, tenant, other_tenant):
    listed = owner_client.get(reverse("admin:accounts_tenant_changelist"))
    assert [row.pk for row in listed.context["cl"].result_list] == [tenant.pk]
    assert owner_client.get(reverse("admin:accounts_tenant_change", args=[other_tenant.pk])).status_code == 404
    assert owner_client.get(reverse("admin:accounts_tenant_history", args=[other_tenant.pk])).status_code == 404
    assert owner_client.get(reverse("admin:accounts_tenant_add")).status_code == 403
    assert owner_client.get(reverse("admin:accounts_tenant_delete", args=[tenant.pk])).status_code == 403
    assert Tenant.objects.filter(pk=tenant.pk).exists()


# --- users -------------------------------------------------------------------------


def test_the_user_admin_hides_users_of_other_tenants(owner_client, owner, operator, other_owner):
    listed = owner_client.get(reverse("admin:accounts_user_changelist"))
    assert {row.pk for row in listed.context["cl"].result_list} == {owner.user_id, operator.user_id}
    assert owner_client.get(reverse("admin:accounts_user_change", args=[other_owner.user_id])).status_code == 404
    autocomplete = owner_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "accounts", "model_name": "membership", "field_name": "user"},
    )
    assert {row["id"] for row in autocomplete.json()["results"]} == {str(owner.user_id), str(operator.user_id)}


def test_a_tenant_admin_cannot_grant_superuser_or_change_a_password(owner_client, operator):
    url = reverse("admin:accounts_user_change", args=[operator.user_id])
    response = owner_client.post(
        url,
        {"email": "evil@acme.test", "name": "Renamed", "language": "pl", "is_superuser": "on", "is_staff": "on"},
    )
    assert response.status_code == 302
    user = operator.user
    user.refresh_from_db()
    assert user.name == "Renamed"
    assert (user.email, user.is_superuser, user.is_staff) == ("operator@acme.test", False, False)
    password_url = reverse("admin:auth_user_password_change", args=[operator.user_id])
    assert owner_client.get(password_url).status_code == 403
    assert owner_client.post(password_url, {"password1": "x" * 12, "password2": "x" * 12}).status_code == 403
    assert user.check_password(PASSWORD)


def test_the_superuser_changes_a_password(superuser_client, operator):
    url = reverse("admin:auth_user_password_change", args=[operator.user_id])
    new_password = "another horse battery"
    response = superuser_client.post(url, {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    operator.user.refresh_from_db()
    assert operator.user.check_password(new_password)


def test_the_superuser_creates_a_user(superuser_client):
    response = superuser_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "new@parley.test",
            "name": "New",
            "password1": "a long pass phrase",
            "password2": "a long pass phrase",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(email="new@parley.test").check_password("a long pass phrase")


def test_the_superuser_invites_to_a_chosen_tenant(superuser_client, other_tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(
            reverse("admin:accounts_invitation_add"),
            {"for_tenant": other_tenant.pk, "email": "x@globex.test", "role": Role.ADMIN},
        )
    assert response.status_code == 302
    with scopes_disabled():
        assert Invitation.objects.get().tenant == other_tenant


def test_the_superuser_adds_a_membership_through_the_service(superuser_client, other_tenant):
    with scopes_disabled():
        user = factories.UserFactory()
    response = superuser_client.post(
        reverse("admin:accounts_membership_add"),
        {
            "for_tenant": other_tenant.pk,
            "user": user.pk,
            "role": Role.ADMIN,
            "max_concurrent_chats": 4,
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    with scopes_disabled():
        membership = Membership.objects.get(user=user)
    assert (membership.tenant, membership.role, membership.max_concurrent_chats) == (other_tenant, Role.ADMIN, 4)
