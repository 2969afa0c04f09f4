"""Operators, departments and invitations in a tenant admin's hands."""

from datetime import timedelta

from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from apps.accounts.models import Department, Invitation, Membership, Role
from tests import factories


def form_of(response):
    return response.context["adminform"].form


# --- choices stay inside the tenant ------------------------------------------------


def test_department_member_choices_list_only_the_tenants_operators(owner_client, owner, operator, other_owner):
    form = form_of(owner_client.get(reverse("admin:accounts_department_add")))
    with scopes_disabled():  # the lazy queryset runs here, after the request: its own filter must hold
        choices = {int(value.value) for value, _label in form.fields["members"].choices if value}
    assert choices == {owner.pk, operator.pk}


def test_a_department_refuses_another_tenants_operator_by_id(owner_client, owner, other_owner):
    response = owner_client.post(
        reverse("admin:accounts_department_add"), {"name": "Sales", "members": [owner.pk, other_owner.pk]}
    )
    assert response.status_code == 200
    assert "members" in form_of(response).errors
    with scopes_disabled():
        assert not Department.objects.filter(name="Sales").exists()


def test_a_new_department_belongs_to_the_admins_tenant(owner_client, tenant, owner):
    response = owner_client.post(reverse("admin:accounts_department_add"), {"name": "Sales", "members": [owner.pk]})
    assert response.status_code == 302
    with scopes_disabled():
        department = Department.objects.get(name="Sales")
        assert list(department.members.all()) == [owner]
    assert department.tenant == tenant


def test_membership_department_choices_and_edit(owner_client, tenant, other_tenant, operator):
    with scopes_disabled():
        sales = factories.DepartmentFactory(tenant=tenant, name="Sales")
        factories.DepartmentFactory(tenant=other_tenant, name="Theirs")
    url = reverse("admin:accounts_membership_change", args=[operator.pk])
    form = form_of(owner_client.get(url))
    with scopes_disabled():  # the lazy queryset runs after the request: its own filter must hold
        assert [label for _value, label in form.fields["departments"].choices] == ["Sales"]
    response = owner_client.post(
        url,
        {
            "role": Role.OPERATOR,
            "display_name": "Ann",
            "max_concurrent_chats": 3,
            "is_active": "on",
            "departments": [sales.pk],
        },
    )
    assert response.status_code == 302, form_of(response).errors
    with scopes_disabled():
        operator.refresh_from_db()
        assert (operator.display_name, operator.max_concurrent_chats) == ("Ann", 3)
        assert list(operator.departments.all()) == [sales]


# --- roles -------------------------------------------------------------------------


def test_an_admin_cannot_promote_to_owner_nor_touch_an_owner(client, tenant, owner, operator):
    with scopes_disabled():
        admin_member = factories.MembershipFactory(tenant=tenant, role=Role.ADMIN)
    client.force_login(admin_member.user)
    response = client.post(
        reverse("admin:accounts_membership_change", args=[operator.pk]),
        {"role": Role.OWNER, "max_concurrent_chats": 5, "is_active": "on"},
    )
    assert response.status_code == 200
    assert "role" in form_of(response).errors
    assert (
        client.post(
            reverse("admin:accounts_membership_change", args=[owner.pk]),
            {"role": Role.OPERATOR, "max_concurrent_chats": 5, "is_active": "on"},
        ).status_code
        == 403
    )
    assert client.post(reverse("admin:accounts_membership_delete", args=[owner.pk]), {"post": "yes"}).status_code == 403
    with scopes_disabled():
        assert Membership.objects.get(pk=owner.pk).role == Role.OWNER
        assert Membership.objects.get(pk=operator.pk).role == Role.OPERATOR


def test_tenant_admins_do_not_add_memberships_by_hand(owner_client):
    assert owner_client.get(reverse("admin:accounts_membership_add")).status_code == 403


# --- invitations -------------------------------------------------------------------


def test_inviting_from_the_admin_creates_and_emails_the_invitation(
    owner_client, tenant, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("admin:accounts_invitation_add"), {"email": "New.Person@Example.com", "role": Role.OPERATOR}
        )
    assert response.status_code == 302
    with scopes_disabled():
        invitation = Invitation.objects.get()
    assert (invitation.tenant, invitation.email, invitation.invited_by) == (
        tenant,
        "new.person@example.com",
        owner.user,
    )
    assert invitation.expires_at > timezone.now()
    assert [message.to for message in mail.outbox] == [["new.person@example.com"]]


def test_inviting_a_member_again_is_refused_next_to_the_field(owner_client, operator):
    response = owner_client.post(
        reverse("admin:accounts_invitation_add"), {"email": operator.user.email, "role": Role.OPERATOR}
    )
    assert response.status_code == 200
    assert "email" in form_of(response).errors
    with scopes_disabled():
        assert not Invitation.objects.exists()


def test_an_admin_cannot_invite_an_owner(client, tenant):
    with scopes_disabled():
        admin_member = factories.MembershipFactory(tenant=tenant, role=Role.ADMIN)
    client.force_login(admin_member.user)
    response = client.post(reverse("admin:accounts_invitation_add"), {"email": "boss@example.com", "role": Role.OWNER})
    assert response.status_code == 200
    assert "role" in form_of(response).errors


def test_the_invitation_list_shows_each_state_and_filters_by_it(owner_client, tenant):
    now = timezone.now()
    with scopes_disabled():
        pending = factories.InvitationFactory(tenant=tenant, email="pending@example.com")
        accepted = factories.InvitationFactory(tenant=tenant, email="accepted@example.com", accepted_at=now)
        expired = factories.InvitationFactory(tenant=tenant, email="expired@example.com", expires_at=now)
    url = reverse("admin:accounts_invitation_changelist")
    page = owner_client.get(url).content.decode()
    for state in ("pending", "accepted", "expired"):
        assert f'class="invitation-{state}"' in page
    for state, invitation in (("pending", pending), ("accepted", accepted), ("expired", expired)):
        listed = owner_client.get(url, {"state": state}).context["cl"].result_list
        assert [row.pk for row in listed] == [invitation.pk]


def test_resend_sends_a_new_link_and_retires_the_old_one(
    owner_client, tenant, owner, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        old = factories.InvitationFactory(
            tenant=tenant, email="late@example.com", expires_at=timezone.now() + timedelta(days=1)
        )
        accepted = factories.InvitationFactory(tenant=tenant, email="in@example.com", accepted_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("admin:accounts_invitation_changelist"),
            {"action": "resend", "_selected_action": [old.pk, accepted.pk], "index": 0},
        )
    assert response.status_code == 302
    with scopes_disabled():
        old.refresh_from_db()
        newest = Invitation.objects.filter(email="late@example.com").exclude(pk=old.pk).get()
        assert Invitation.objects.filter(email="in@example.com").count() == 1
    assert old.is_expired
    assert not newest.is_expired and newest.invited_by == owner.user
    assert [message.to for message in mail.outbox] == [["late@example.com"]]


def test_invitations_are_not_edited(owner_client, tenant):
    with scopes_disabled():
        invitation = factories.InvitationFactory(tenant=tenant)
    url = reverse("admin:accounts_invitation_change", args=[invitation.pk])
    assert owner_client.get(url).status_code == 200
    assert owner_client.post(url, {"email": "other@example.com", "role": Role.OWNER}).status_code == 403


def test_an_owner_cannot_demote_deactivate_or_remove_themselves(owner_client, owner):
    url = reverse("admin:accounts_membership_change", args=[owner.pk])
    response = owner_client.post(url, {"role": Role.ADMIN, "max_concurrent_chats": 5, "is_active": ""})
    assert response.status_code == 200
    assert {"role", "is_active"} <= set(form_of(response).errors)
    delete_url = reverse("admin:accounts_membership_delete", args=[owner.pk])
    assert owner_client.post(delete_url, {"post": "yes"}).status_code == 403
    with scopes_disabled():
        owner.refresh_from_db()
    assert (owner.role, owner.is_active) == (Role.OWNER, True)
    saved = owner_client.post(
        url, {"role": Role.OWNER, "display_name": "Boss", "max_concurrent_chats": 5, "is_active": "on"}
    )
    assert saved.status_code == 302
