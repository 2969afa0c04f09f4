"""Saving replies (validation, placeholders), filling them for a chat, usage counts, hotkeys."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from apps.canned import placeholders, selectors, services
from apps.canned.models import CannedReply, CannedUsage, Scope
from apps.conversations.models import Attachment

pytestmark = pytest.mark.django_db


def errors_of(call):
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.message_dict


def test_an_unknown_placeholder_is_refused_when_the_reply_is_saved(tenant, make_reply):
    errors = errors_of(lambda: make_reply("hi", text="Hello {{visitor.nmae}}!"))
    assert "visitor.nmae" in errors["text"][0]
    errors = errors_of(lambda: make_reply("hi", text="Hello {{visitor.name"))
    assert errors["text"]
    with scopes_disabled():
        assert not CannedReply.objects.exists()


def test_known_placeholders_and_custom_attributes_are_accepted(make_reply):
    reply = make_reply(
        "hi",
        text="{{visitor.name|there}} {{ visitor.email }} {{operator.name}} {{company.name}} "
        "{{page.url}} {{page.title}} {{attribute.plan}} {{attribute.order-id|none}}",
    )
    assert reply.pk


def test_placeholders_are_filled_and_an_empty_value_takes_the_fallback():
    values = placeholders.PlaceholderValues(
        visitor_name="", operator_name="Alice", company_name="Acme", attributes={"plan": "Gold", "nested": {"a": 1}}
    )
    text = (
        "Hi {{visitor.name|there}}, I am {{operator.name}} of {{company.name}}. "
        "{{attribute.plan}}/{{attribute.nested|-}}"
    )
    assert placeholders.fill(text, values) == "Hi there, I am Alice of Acme. Gold/-"
    assert placeholders.fill("{{visitor.name}}!", values) == "!"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"shortcut": ""}, "shortcut"),
        ({"shortcut": "two words"}, "shortcut"),
        ({"shortcut": "x" * 41}, "shortcut"),
        ({"title": "  "}, "title"),
        ({"text": ""}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"language": "de"}, "language"),
        ({"tags": "ok, not ok"}, "tags"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_written(tenant, fields, field):
    base = {"shortcut": "ok", "title": "Title", "text": "Text", "language": "en", "tags": ""}
    errors = errors_of(lambda: services.canned_reply_create(tenant=tenant, **{**base, **fields}))
    assert field in errors
    with scopes_disabled():
        assert not CannedReply.objects.exists()


def test_a_shortcut_is_unique_within_its_scope_only(tenant, operator, colleague, sales, make_reply):
    make_reply("hello")
    assert "shortcut" in errors_of(lambda: make_reply("HELLO"))
    make_reply("hello", scope=Scope.DEPARTMENT, department=sales)
    make_reply("hello", scope=Scope.PERSONAL, owner=operator)
    make_reply("hello", scope=Scope.PERSONAL, owner=colleague)
    assert "shortcut" in errors_of(lambda: make_reply("/hello", scope=Scope.PERSONAL, owner=operator))


def test_a_department_of_another_tenant_is_refused(tenant, other_tenant, make_reply):
    from tests import factories

    with scopes_disabled():
        theirs = factories.DepartmentFactory(tenant=other_tenant)
    assert errors_of(lambda: make_reply("x", scope=Scope.DEPARTMENT, department=theirs))


def test_tags_are_normalised(make_reply):
    reply = make_reply("x", tags="#Delivery, shipping ,delivery,, Доставка")
    assert reply.tags == "delivery, shipping, доставка"
    assert reply.tag_list == ["delivery", "shipping", "доставка"]


def test_fill_uses_the_conversation_and_counts_one_use_per_operator(
    tenant, operator, colleague, conversation, make_reply
):
    with scopes_disabled():
        visitor = conversation.visitor
        visitor.name = "Jan Kowalski"
        visitor.current_url = "https://shop.example/cart"
        visitor.attributes = {"plan": "Pro"}
        visitor.save()
    reply = make_reply(
        "hi",
        text="Hi {{visitor.name|there}}, {{operator.name}} here. {{page.url}} {{attribute.plan}} {{visitor.email|-}}",
    )
    filled = services.canned_reply_fill(tenant=tenant, reply=reply, membership=operator, conversation=conversation)
    assert filled["text"] == f"Hi Jan Kowalski, {operator.name_for_visitors} here. https://shop.example/cart Pro -"
    services.canned_reply_fill(tenant=tenant, reply=reply, membership=operator, conversation=conversation)
    services.canned_reply_fill(tenant=tenant, reply=reply, membership=colleague, conversation=None)
    with scopes_disabled():
        reply.refresh_from_db()
        assert reply.usage_count == 3
        counts = {u.membership_id: u.count for u in CannedUsage.objects.filter(reply=reply)}
    assert counts == {operator.pk: 2, colleague.pk: 1}


def test_fill_stages_the_replys_files_as_the_operators_uploads(
    tenant, operator, conversation, make_reply, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    reply = make_reply("price", text="Our price list is attached.")
    services.canned_attachment_add(
        tenant=tenant, reply=reply, file=SimpleUploadedFile("cennik ł.pdf", b"%PDF-1.4 price list", "application/pdf")
    )
    filled = services.canned_reply_fill(tenant=tenant, reply=reply, membership=operator, conversation=conversation)
    assert [a["filename"] for a in filled["attachments"]] == ["cennik_ł.pdf"]
    assert filled["attachments"][0]["content_type"] == "application/pdf"
    with scopes_disabled():
        staged = Attachment.objects.get(token=filled["attachments"][0]["token"])
    assert staged.conversation_id == conversation.pk and staged.uploader_side == "operator" and staged.message is None


def test_an_oversized_attachment_is_refused(tenant, make_reply):
    reply = make_reply("big")
    big = SimpleUploadedFile("big.pdf", b"%PDF" + b"0" * services.ATTACHMENT_MAX_BYTES)
    assert "file" in errors_of(lambda: services.canned_attachment_add(tenant=tenant, reply=reply, file=big))


def test_hotkeys_are_per_operator_and_drop_replies_they_can_no_longer_see(
    tenant, operator, colleague, sales, make_reply
):
    shared = make_reply("hello")
    sales_reply = make_reply("offer", scope=Scope.DEPARTMENT, department=sales)
    services.canned_hotkey_set(tenant=tenant, membership=operator, slot=1, reply=shared)
    services.canned_hotkey_set(tenant=tenant, membership=operator, slot=2, reply=sales_reply, sends=False)
    services.canned_hotkey_set(tenant=tenant, membership=colleague, slot=1, reply=shared)
    mine = selectors.canned_hotkeys(tenant=tenant, membership=operator)
    assert [(h["slot"], h["reply"]["shortcut"], h["sends"]) for h in mine] == [(1, "hello", True), (2, "offer", False)]
    with scopes_disabled():
        sales.members.remove(operator)
    assert [h["slot"] for h in selectors.canned_hotkeys(tenant=tenant, membership=operator)] == [1]
    services.canned_hotkey_set(tenant=tenant, membership=operator, slot=1, reply=None)
    assert selectors.canned_hotkeys(tenant=tenant, membership=operator) == []
    assert "slot" in errors_of(
        lambda: services.canned_hotkey_set(tenant=tenant, membership=operator, slot=10, reply=shared)
    )
