"""Admins manage shared replies in the Django admin: forms, CSV, usage counts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from apps.canned import services
from apps.canned.models import CannedReply, Scope

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:canned_cannedreply_changelist"


@pytest.fixture
def admin_client(owner):
    client = Client()
    client.force_login(owner.user)
    return client


def form(**overrides):
    return {
        "title": "Delivery times",
        "shortcut": "delivery",
        "text": "Hi {{visitor.name|there}}, 2-5 days.",
        "language": "en",
        "tags": "delivery",
        "scope": "tenant",
        "department": "",
        "attachments-TOTAL_FORMS": "0",
        "attachments-INITIAL_FORMS": "0",
        "usages-TOTAL_FORMS": "0",
        "usages-INITIAL_FORMS": "0",
        **overrides,
    }


def test_an_admin_adds_a_department_reply(admin_client, tenant, sales):
    response = admin_client.post(reverse("admin:canned_cannedreply_add"), form(scope="department", department=sales.pk))
    assert response.status_code == 302, response.context["adminform"].form.errors
    with scopes_disabled():
        reply = CannedReply.objects.get()
    assert (reply.tenant_id, reply.scope, reply.department_id) == (tenant.pk, Scope.DEPARTMENT, sales.pk)
    assert reply.sort_key and reply.search_text


def test_an_unknown_placeholder_is_shown_next_to_the_text(admin_client):
    response = admin_client.post(reverse("admin:canned_cannedreply_add"), form(text="Hi {{visitor.nmae}}"))
    assert response.status_code == 200
    assert "visitor.nmae" in str(response.context["adminform"].form.errors["text"])
    with scopes_disabled():
        assert not CannedReply.objects.exists()


def test_a_department_reply_needs_its_department(admin_client):
    response = admin_client.post(reverse("admin:canned_cannedreply_add"), form(scope="department"))
    assert response.status_code == 200 and "department" in response.context["adminform"].form.errors


def test_personal_replies_stay_out_of_the_admin(admin_client, tenant, operator, make_reply):
    shared = make_reply("shared")
    personal = make_reply("mine", scope=Scope.PERSONAL, owner=operator)
    listed = {r.pk for r in admin_client.get(reverse(CHANGELIST)).context["cl"].result_list}
    assert listed == {shared.pk}
    assert admin_client.get(reverse("admin:canned_cannedreply_change", args=[personal.pk])).status_code == 404


def test_an_admin_edits_a_reply_and_its_usage_by_operator_shows(admin_client, tenant, operator, make_reply):
    reply = make_reply("hello", "Hello", "Hi")
    services.canned_usage_record(tenant=tenant, reply=reply, membership=operator)
    page = admin_client.get(reverse("admin:canned_cannedreply_change", args=[reply.pk]))
    assert page.status_code == 200 and operator.name_for_team in page.content.decode()
    response = admin_client.post(
        reverse("admin:canned_cannedreply_change", args=[reply.pk]),
        form(
            title="Hello there",
            shortcut="hello",
            text="Hi!",
            **{
                "usages-TOTAL_FORMS": "1",
                "usages-INITIAL_FORMS": "1",
                "usages-0-id": _usage_id(reply),
                "usages-0-reply": reply.pk,
            },
        ),
    )
    assert response.status_code == 302
    with scopes_disabled():
        reply.refresh_from_db()
    assert reply.title == "Hello there" and reply.usage_count == 1
    usage = admin_client.get(reverse("admin:canned_cannedusage_changelist"))
    assert [(u.reply_id, u.membership_id, u.count) for u in usage.context["cl"].result_list] == [
        (reply.pk, operator.pk, 1)
    ]


def _usage_id(reply):
    with scopes_disabled():
        return reply.usages.get().pk


def test_csv_export_and_import_from_the_admin(admin_client, tenant, make_reply):
    make_reply("dostavka", "Сроки доставки", "Zażółć gęślą jaźń")
    exported = admin_client.get(reverse("admin:canned_cannedreply_export"))
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    body = exported.content.decode("utf-8")
    assert "Сроки доставки" in body and "Zażółć" in body

    edited = body.replace("Сроки доставки", "Доставка по Польше") + "nowa,Łódź,Tekst,pl,,,\r\n"
    response = admin_client.post(
        reverse("admin:canned_cannedreply_import"),
        {"file": SimpleUploadedFile("replies.csv", edited.encode("utf-8"), "text/csv")},
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert sorted(CannedReply.objects.values_list("title", flat=True)) == ["Łódź", "Доставка по Польше"]


def test_a_broken_csv_in_the_admin_lists_the_lines_and_imports_nothing(admin_client):
    data = b"shortcut,title,text\nok,Fine,x\nbad one,T,x\n"
    response = admin_client.post(
        reverse("admin:canned_cannedreply_import"), {"file": SimpleUploadedFile("r.csv", data, "text/csv")}
    )
    assert response.status_code == 400
    assert response.context["errors"][0][0] == 3
    assert 'id="import-errors"' in response.content.decode()
    with scopes_disabled():
        assert not CannedReply.objects.exists()


def test_operators_cannot_use_the_csv_pages(operator):
    client = Client()
    client.force_login(operator.user)
    for name in ("export", "import"):
        response = client.get(reverse(f"admin:canned_cannedreply_{name}"))
        # The admin site sends them to its login, which refuses a logged-in operator.
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
        assert client.get(response["Location"]).status_code == 403


def test_changing_the_companys_language_in_the_admin_resorts_its_replies(admin_client, tenant, operator, make_reply):
    from apps.canned import selectors

    make_reply("a1", "ąb")
    make_reply("a2", "ac")
    response = admin_client.post(
        reverse("admin:accounts_tenant_change", args=[tenant.pk]),
        {"name": tenant.name, "time_zone": "UTC", "default_language": "pl", "allowed_domains": ""},
    )
    assert response.status_code == 302
    browse = selectors.canned_browse(tenant=tenant, membership=operator)
    assert [r["title"] for r in browse["replies"]] == ["ac", "ąb"]


def test_the_scope_filter_offers_only_what_admins_see(admin_client, operator, make_reply):
    make_reply("shared", "Shared")
    make_reply("mine", "Mine", scope=Scope.PERSONAL, owner=operator)
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    scope_filter = next(spec for spec in response.context["cl"].filter_specs if spec.parameter_name == "scope")
    assert [value for value, _label in scope_filter.lookup_choices] == ["tenant", "department"]
    assert "personal" not in response.content.decode().split('id="changelist-filter"')[1]
    # Asking for personal replies by hand still lists none of them.
    forced = admin_client.get(reverse(CHANGELIST), {"scope": "personal"})
    assert "Mine" not in forced.content.decode()


def test_uses_of_personal_replies_are_not_listed_to_admins(admin_client, tenant, operator, make_reply):
    shared = make_reply("shared", "Shared reply")
    mine = make_reply("mine", "My secret reply", scope=Scope.PERSONAL, owner=operator)
    for reply in (shared, mine):
        services.canned_usage_record(tenant=tenant, reply=reply, membership=operator)
    response = admin_client.get(reverse("admin:canned_cannedusage_changelist"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Shared reply" in body or "/shared" in body
    assert "My secret reply" not in body and "/mine" not in body
