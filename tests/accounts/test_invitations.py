import re
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from apps.accounts import services
from apps.accounts.invitations import InvitationError, invitation_token
from apps.accounts.models import Invitation, Membership, Role, User
from apps.core.tenancy import tenant_scope
from tests import factories
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a quiet harbour at dawn"


@pytest.fixture
def invite(tenant, owner, django_capture_on_commit_callbacks):
    def make(email="new.person@acme.test", role=Role.OPERATOR) -> Invitation:
        with django_capture_on_commit_callbacks(execute=True):
            return services.invitation_create(tenant=tenant, email=email, role=role, invited_by=owner.user)

    return make


def link_from(message) -> str:
    return re.search(r"https://parley\.example(/invite/\S+/)", message.body).group(1)


def test_create_emails_a_signed_link_after_commit(tenant, owner, django_capture_on_commit_callbacks, settings):
    tenant.time_zone = "Europe/Warsaw"
    tenant.save()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = services.invitation_create(
            tenant=tenant, email=" New.Person@ACME.test ", role=Role.ADMIN, invited_by=owner.user
        )
    assert mail.outbox == []  # nothing leaves before the transaction commits
    for callback in callbacks:
        callback()

    assert invitation.email == "new.person@acme.test"
    assert invitation.tenant == tenant
    expected_expiry = timezone.now() + timedelta(seconds=settings.PARLEY_INVITATION_MAX_AGE)
    assert abs(invitation.expires_at - expected_expiry) < timedelta(seconds=5)
    [message] = mail.outbox
    assert message.to == ["new.person@acme.test"]
    assert "Acme" in message.subject
    assert link_from(message) == reverse("invitation_accept", kwargs={"token": invitation_token(invitation)})
    assert "(Europe/Warsaw)" in message.body  # the expiry is told on the company's clock


def test_the_email_is_translated(tenant, owner, django_capture_on_commit_callbacks):
    from django.utils import translation

    with translation.override("pl"), django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(tenant=tenant, email="p@acme.test", role=Role.OPERATOR, invited_by=owner.user)
    with translation.override("ru"), django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(tenant=tenant, email="r@acme.test", role=Role.OPERATOR, invited_by=owner.user)
    polish, russian = mail.outbox
    assert "Zaproszenie" in polish.subject or "zaprosz" in polish.subject.lower()
    assert "приглаш" in russian.subject.lower()


def test_a_new_person_sets_name_and_password_and_is_logged_in(client, invite):
    invite(role=Role.ADMIN)
    link = link_from(mail.outbox[0])

    page = client.get(link)
    assert page.status_code == 200
    assert page.context["mode"] == "register"

    response = client.post(link, {"name": "Nora New", "password": NEW_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("get_started")
    user = User.objects.get(email="new.person@acme.test")
    assert user.name == "Nora New"
    assert user.check_password(NEW_PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)
    with scopes_disabled():
        membership = Membership.objects.get(user=user)
        assert membership.role == Role.ADMIN
        assert Invitation.objects.get().accepted_at is not None


def test_a_weak_password_keeps_the_invitation_unused(client, invite):
    invite()
    link = link_from(mail.outbox[0])
    response = client.post(link, {"name": "Nora", "password": "123"})
    assert response.status_code == 200
    assert "password" in response.context["form"].errors
    with scopes_disabled():
        assert Invitation.objects.get().accepted_at is None
    assert not User.objects.filter(email="new.person@acme.test").exists()


def test_an_invitation_is_accepted_only_once(client, invite):
    invitation = invite()
    token = invitation_token(invitation)
    services.invitation_accept(token=token, name="Nora", password=NEW_PASSWORD)

    with pytest.raises(InvitationError) as caught:
        services.invitation_accept(token=token, name="Someone", password=NEW_PASSWORD)
    assert caught.value.code == InvitationError.USED
    response = client.get(reverse("invitation_accept", kwargs={"token": token}))
    assert response.status_code == 410
    assert b"already been accepted" in response.content


def test_an_expired_invitation_is_refused(client, invite):
    invitation = invite()
    with scopes_disabled():
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    token = invitation_token(invitation)

    with pytest.raises(InvitationError) as caught:
        services.invitation_accept(token=token, name="Nora", password=NEW_PASSWORD)
    assert caught.value.code == InvitationError.EXPIRED
    response = client.post(
        reverse("invitation_accept", kwargs={"token": token}), {"name": "Nora", "password": NEW_PASSWORD}
    )
    assert response.status_code == 410
    assert not User.objects.filter(email=invitation.email).exists()


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: "x" + token,  # random part changed, old signature
        lambda token: token.split(":")[0],  # no signature
        lambda token: signing.Signer().sign(token.split(":")[0]),  # signed without the invitation salt
        lambda token: signing.Signer(salt="parley.accounts.invitation").sign("guessed-token"),  # unknown token
    ],
)
def test_a_forged_or_unknown_token_is_refused(client, invite, forge):
    invitation = invite()
    forged = forge(invitation_token(invitation))

    with pytest.raises(InvitationError) as caught:
        services.invitation_accept(token=forged, name="Mallory", password=NEW_PASSWORD)
    assert caught.value.code == InvitationError.INVALID
    response = client.post(
        reverse("invitation_accept", kwargs={"token": forged}), {"name": "Mallory", "password": NEW_PASSWORD}
    )
    assert response.status_code == 404
    with scopes_disabled():
        assert Invitation.objects.get().accepted_at is None
    assert not User.objects.filter(email=invitation.email).exists()


def test_an_existing_user_logs_in_then_joins(client, invite, other_operator, tenant):
    """Someone already in another company gets a second membership with the same login."""
    email = other_operator.user.email
    invite(email=email)
    link = link_from(mail.outbox[0])

    page = client.get(link)
    assert page.context["mode"] == "login"
    with pytest.raises(InvitationError) as caught:
        services.invitation_accept(token=link.split("/")[2], name="X", password=NEW_PASSWORD)
    assert caught.value.code == InvitationError.LOGIN_REQUIRED

    client.login(email=email, password=PASSWORD)
    assert client.get(link).context["mode"] == "join"
    response = client.post(link)

    assert response.status_code == 302
    with tenant_scope(tenant):
        assert Membership.objects.get(user=other_operator.user).role == Role.OPERATOR
    with scopes_disabled():
        assert Membership.objects.filter(user=other_operator.user).count() == 2
    # The session now works in the company that was just joined.
    assert client.get(reverse("get_started")).context["tenant"] == tenant


def test_another_logged_in_user_cannot_take_the_invitation(client, invite, operator):
    invitation = invite()
    client.login(email=operator.user.email, password=PASSWORD)
    link = reverse("invitation_accept", kwargs={"token": invitation_token(invitation)})

    assert client.get(link).context["mode"] == "wrong_user"
    client.post(link)
    with pytest.raises(InvitationError) as caught:
        services.invitation_accept(token=invitation_token(invitation), user=operator.user)
    assert caught.value.code == InvitationError.WRONG_USER
    with scopes_disabled():
        assert Invitation.objects.get().accepted_at is None


def test_a_new_invitation_replaces_the_pending_one(invite):
    first = invite()
    second = invite()
    with pytest.raises(InvitationError):
        services.invitation_accept(token=invitation_token(first), name="Nora", password=NEW_PASSWORD)
    services.invitation_accept(token=invitation_token(second), name="Nora", password=NEW_PASSWORD)


def test_members_are_not_invited_again(tenant, operator):
    with pytest.raises(ValidationError) as caught:
        services.invitation_create(tenant=tenant, email=operator.user.email.upper(), role=Role.OPERATOR)
    assert "email" in caught.value.message_dict


def test_team_page_invites_for_owners_and_admins_only(client, owner, operator, django_capture_on_commit_callbacks):
    client.login(email=operator.user.email, password=PASSWORD)
    assert client.get(reverse("team_invite")).status_code == 403

    client.login(email=owner.user.email, password=PASSWORD)
    page = client.get(reverse("team_invite"))
    assert page.status_code == 200
    assert operator.user.email in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("team_invite"), {"email": "sam@acme.test", "role": Role.ADMIN})
    assert response.status_code == 302
    assert mail.outbox[0].to == ["sam@acme.test"]
    with tenant_scope(owner.tenant):
        assert Invitation.objects.get().role == Role.ADMIN


def test_an_admin_cannot_invite_an_owner(client, tenant):
    with scopes_disabled():
        admin = factories.MembershipFactory(tenant=tenant, role=Role.ADMIN)
    client.login(email=admin.user.email, password=PASSWORD)
    response = client.post(reverse("team_invite"), {"email": "sam@acme.test", "role": Role.OWNER})
    assert response.status_code == 200
    assert "role" in response.context["form"].errors


def test_team_page_lists_only_its_own_tenants_people(client, owner, other_operator, other_tenant):
    with scopes_disabled():
        factories.MembershipFactory(tenant=other_tenant, user__email="secret@globex.test")
    services.invitation_create(tenant=other_tenant, email="pending@globex.test", role=Role.OPERATOR)
    client.login(email=owner.user.email, password=PASSWORD)
    html = client.get(reverse("team_invite")).content.decode()
    assert "globex" not in html


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_accepts_make_one_account(tenant):
    """The invitation row is locked while it is accepted: the second request sees it used."""
    import threading

    from django.db import connection

    invitation = services.invitation_create(tenant=tenant, email="twice@acme.test", role=Role.OPERATOR)
    token = invitation_token(invitation)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def accept(name: str) -> None:
        try:
            barrier.wait()
            services.invitation_accept(token=token, name=name, password=NEW_PASSWORD)
            results.append("accepted")
        except InvitationError as error:
            results.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(name,)) for name in ("First", "Second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["accepted", InvitationError.USED]
    assert User.objects.filter(email="twice@acme.test").count() == 1
