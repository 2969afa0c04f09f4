import io
import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from django.utils import timezone
from django_scopes import scopes_disabled
from PIL import Image

from apps.conversations import events, services
from apps.conversations.errors import (
    AttachmentTooLarge,
    AttachmentTypeRefused,
    BadInput,
    Conflict,
    ConversationClosed,
    Forbidden,
    NotFound,
)
from apps.conversations.models import Attachment, Conversation, Message, PageView, Visitor, VisitorNote
from apps.routing.presence import presence_set
from tests import factories

pytestmark = pytest.mark.django_db


def send(tenant, conversation, body="Hello", client_id="c-1", **kwargs):
    kwargs.setdefault("author_type", "visitor")
    return services.message_send(tenant=tenant, conversation=conversation, body=body, client_id=client_id, **kwargs)


def reload(obj):
    with scopes_disabled():
        obj.refresh_from_db()
    return obj


def stored_messages(conversation):
    with scopes_disabled():
        return list(Message.objects.filter(conversation=conversation).order_by("seq"))


def png_bytes(size=(3, 2), fmt="PNG"):
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, fmt)
    return buffer.getvalue()


# --- message_send ---------------------------------------------------------------------------


def test_a_visitor_message_is_stored_with_seq_1_and_sent_to_the_visitor_and_operators(
    tenant, conversation, layer, publish
):
    with publish():
        message, created = send(tenant, conversation, body="  Hi there \n")
    assert created is True
    assert (message.seq, message.body, message.author_type, message.kind) == (1, "Hi there", "visitor", "text")
    assert reload(conversation).last_seq == 1
    assert reload(conversation).last_message_at == message.created_at
    # The body to the visitor and the watching operators; the tenant's lists get a compact item.
    assert sorted(layer.groups()) == sorted([f"c{conversation.pk}", f"c{conversation.pk}.ops", f"t{tenant.pk}.ops"])
    for group in (f"c{conversation.pk}", f"c{conversation.pk}.ops"):
        [frame] = layer.frames(group)
        assert frame["type"] == "message"
        assert frame["conversation"] == conversation.pk
        assert frame["message"]["seq"] == 1
        assert frame["message"]["client_id"] == "c-1"
    assert "author_id" not in layer.frames(f"c{conversation.pk}")[0]["message"]
    assert layer.frames(f"t{tenant.pk}.ops") == [
        {
            "type": "list",
            "conversations": [
                {
                    "id": conversation.pk,
                    "status": "queued",
                    "last_seq": 1,
                    "last_message_at": message.created_at.isoformat(),
                    "last_message": {
                        "seq": 1,
                        "author_type": "visitor",
                        "kind": "text",
                        "body": "Hi there",
                        "created_at": message.created_at.isoformat(),
                    },
                    "visitor_seqs": [1],
                }
            ],
        }
    ]
    assert all(m["type"] == "deliver" for _, m in layer.sent)


def test_a_channel_layer_failure_after_commit_loses_nothing(tenant, conversation, monkeypatch, publish, caplog):
    class BrokenLayer:
        def __init__(self):
            self.calls = 0

        async def group_send(self, group, message):
            self.calls += 1
            raise ConnectionError("redis is down")

    broken = BrokenLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: broken)
    with publish():
        message, created = send(tenant, conversation)
    assert created and reload(message).seq == 1
    assert broken.calls == 3  # every group was tried (the visitor's, the watching operators', the lists')
    assert "group_send to" in caplog.text


def test_a_resend_with_the_same_client_id_returns_the_stored_message_and_publishes_nothing(
    tenant, conversation, layer, publish
):
    with publish():
        first, created = send(tenant, conversation, client_id="abc:1")
    layer.clear()
    with publish() as callbacks:
        again, created_again = send(tenant, conversation, client_id="abc:1", body="Hello")
    assert created is True and created_again is False
    assert again.pk == first.pk and again.seq == first.seq
    assert len(stored_messages(conversation)) == 1
    assert callbacks == [] and layer.sent == []
    assert reload(conversation).last_seq == 1


def test_a_client_id_of_another_author_is_a_conflict_and_reveals_nothing(tenant, conversation, operator, layer):
    services.note_add(tenant=tenant, conversation=conversation, author=operator, body="secret", client_id="n1")
    with pytest.raises(Conflict) as exc:
        send(tenant, conversation, client_id="n1")
    assert "secret" not in exc.value.message
    assert len(stored_messages(conversation)) == 1


def test_sequence_numbers_are_consecutive(tenant, conversation, operator):
    for i in range(5):
        send(tenant, conversation, client_id=f"v{i}")
        send(tenant, conversation, client_id=f"o{i}", author_type="operator", author=operator)
    assert [m.seq for m in stored_messages(conversation)] == list(range(1, 11))
    assert reload(conversation).last_seq == 10


def test_a_failed_insert_rolls_back_the_sequence_increment(tenant, conversation):
    table = Message._meta.db_table

    def failing_insert(execute, sql, params, many, context):
        # At the database, whichever way the service inserts (save(), or INSERT ... ON CONFLICT).
        if sql.lstrip().upper().startswith("INSERT INTO") and table in sql:
            raise IntegrityError("simulated")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(failing_insert), pytest.raises(IntegrityError):
        send(tenant, conversation, client_id="x1")
    assert reload(conversation).last_seq == 0
    message, _ = send(tenant, conversation, client_id="x2")
    assert message.seq == 1


@pytest.mark.parametrize(
    "body",
    ["<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "a & b < c > d \"' `${x}`", "{{ 7*7 }} {% x %}"],
)
def test_hostile_text_is_stored_verbatim_as_plain_text(tenant, conversation, layer, publish, body):
    with publish():
        message, _ = send(tenant, conversation, body=body)
    assert reload(message).body == body
    assert message.kind == "text"
    assert layer.frames(f"c{conversation.pk}")[0]["message"]["body"] == body


@pytest.mark.parametrize(
    ("body", "client_id", "field"),
    [
        ("", "c1", "body"),
        ("   \n\t ", "c1", "body"),
        ("x" * 5001, "c1", "body"),
        (None, "c1", "body"),
        (["list"], "c1", "body"),
        ({"a": 1}, "c1", "body"),
        ("ok", "", "client_id"),
        ("ok", "x" * 65, "client_id"),
        ("ok", "has space", "client_id"),
        ("ok", "<script>", "client_id"),
        ("ok", "abc\n", "client_id"),
        ("ok", None, "client_id"),
        ("ok", 12, "client_id"),
    ],
)
def test_malformed_messages_are_refused_and_change_nothing(
    tenant, conversation, layer, publish, body, client_id, field
):
    with publish() as callbacks, pytest.raises(BadInput) as exc:
        send(tenant, conversation, body=body, client_id=client_id)
    assert exc.value.code == "bad_frame"
    assert exc.value.field == field
    assert stored_messages(conversation) == []
    assert reload(conversation).last_seq == 0
    assert callbacks == [] and layer.sent == []


def test_control_characters_are_dropped_so_every_database_can_store_the_text(tenant, conversation):
    message, _ = send(tenant, conversation, body="a\x00b\x07c\nd\te")
    assert reload(message).body == "abc\nd\te"


def test_a_client_cannot_take_the_client_id_of_a_future_system_message(tenant, conversation, operator):
    for i in range(1, 4):
        send(tenant, conversation, client_id=f"system-{i + 1}")
    services.conversation_accept(tenant=tenant, conversation=conversation, membership=operator)
    with pytest.raises(BadInput):
        send(tenant, conversation, client_id="#system-9")
    assert stored_messages(conversation)[-1].data["event"] == "accepted"


def test_a_body_of_exactly_5000_characters_is_accepted(tenant, conversation):
    message, _ = send(tenant, conversation, body="y" * 5000)
    assert len(message.body) == 5000


def test_a_closed_conversation_refuses_visitor_text_but_takes_an_operator_note(tenant, conversation, operator):
    services.conversation_close(tenant=tenant, conversation=conversation, by=operator)
    with pytest.raises(ConversationClosed) as exc:
        send(tenant, conversation, client_id="late")
    assert exc.value.code == "closed"
    with pytest.raises(ConversationClosed):
        send(tenant, conversation, client_id="late-op", author_type="operator", author=operator)
    note, created = services.note_add(
        tenant=tenant, conversation=conversation, author=operator, body="follow up by mail", client_id="n"
    )
    assert created and note.kind == "note"


def test_a_resend_after_close_still_gets_its_original_message(tenant, conversation, operator):
    first, _ = send(tenant, conversation, client_id="before-close")
    services.conversation_close(tenant=tenant, conversation=conversation, by=operator)
    again, created = send(tenant, conversation, client_id="before-close")
    assert (again.pk, created) == (first.pk, False)


def test_an_operator_reply_sets_first_reply_at_but_does_not_assign_a_queued_chat(tenant, conversation, operator):
    services.note_add(tenant=tenant, conversation=conversation, author=operator, body="internal", client_id="n1")
    assert reload(conversation).first_reply_at is None
    message, _ = send(tenant, conversation, client_id="o1", author_type="operator", author=operator)
    conversation = reload(conversation)
    assert conversation.first_reply_at == message.created_at
    assert conversation.status == "queued" and conversation.assignee_id is None
    send(tenant, conversation, client_id="o2", author_type="operator", author=operator)
    assert reload(conversation).first_reply_at == message.created_at


def test_a_private_note_goes_only_to_operators(tenant, conversation, operator, layer, publish):
    with publish():
        note, _ = services.note_add(
            tenant=tenant, conversation=conversation, author=operator, body="card declined twice", client_id="n1"
        )
    assert layer.groups() == [f"c{conversation.pk}.ops", f"t{tenant.pk}.ops"]
    assert layer.frames(f"c{conversation.pk}.ops")[0]["message"]["kind"] == "note"
    assert layer.frames(f"t{tenant.pk}.ops")[0]["conversations"][0]["last_message"]["kind"] == "note"
    assert note.seq == 1


def test_an_operator_without_a_name_is_the_company_to_visitors_and_the_address_to_colleagues(tenant):
    with scopes_disabled():
        nameless = factories.MembershipFactory(tenant=tenant, user__email="jane.secret@acme.test", user__name="")
        assert (nameless.name_for_visitors, nameless.name_for_team) == (tenant.name, "jane.secret")
        nameless.display_name = "Jane"
        assert (nameless.name_for_visitors, nameless.name_for_team) == ("Jane", "Jane")


def test_the_visitor_frame_shows_the_operators_public_name_never_the_email(tenant, conversation, layer, publish):
    with scopes_disabled():
        anonymous = factories.MembershipFactory(tenant=tenant, user__email="jane.secret@acme.test", user__name="")
        named = factories.MembershipFactory(
            tenant=tenant, user__email="bob.private@acme.test", user__name="Robert", display_name="Bob"
        )
    with publish():
        send(tenant, conversation, client_id="a", author_type="operator", author=anonymous)
        send(tenant, conversation, client_id="b", author_type="operator", author=named)
    visitor_frames = layer.frames(f"c{conversation.pk}")
    text = "".join(m["text"] for g, m in layer.sent if g == f"c{conversation.pk}")
    assert "jane.secret" not in text and "acme.test" not in text and "bob.private" not in text
    assert [f["message"]["author_name"] for f in visitor_frames] == [tenant.name, "Bob"]
    assert all("author_id" not in f["message"] for f in visitor_frames)
    ops = layer.frames(f"c{conversation.pk}.ops")
    assert ops[0]["message"]["author_id"] == anonymous.pk


def test_another_tenants_conversation_or_operator_is_not_found(
    tenant, conversation, other_tenant, other_conversation, other_operator, operator
):
    with pytest.raises(NotFound):
        send(tenant, other_conversation)
    with pytest.raises(NotFound):
        send(tenant, conversation, author_type="operator", author=other_operator)
    with pytest.raises(NotFound):
        services.conversation_accept(tenant=tenant, conversation=other_conversation, membership=operator)
    with pytest.raises(NotFound):
        services.message_mark_read(tenant=tenant, conversation=other_conversation, side="visitor", seq=1)
    assert stored_messages(other_conversation) == []


def test_an_inactive_operator_cannot_send(tenant, conversation, operator):
    with scopes_disabled():
        operator.is_active = False
        operator.save()
    with pytest.raises(Forbidden):
        send(tenant, conversation, author_type="operator", author=operator)


def test_a_visitor_cannot_send_a_note(tenant, conversation):
    with pytest.raises(Forbidden):
        send(tenant, conversation, kind="note")


def test_services_run_in_their_tenant_scope_whatever_the_callers_scope(tenant, conversation, other_tenant):
    from apps.core.tenancy import tenant_scope

    with tenant_scope(other_tenant):
        message, _ = send(tenant, conversation)
    assert message.tenant_id == tenant.pk


# --- attachments ------------------------------------------------------------------------------


def upload(tenant, conversation, data, name, side="visitor", content_type="application/octet-stream"):
    return services.attachment_upload(
        tenant=tenant,
        conversation=conversation,
        file=SimpleUploadedFile(name, data, content_type=content_type),
        uploader_side=side,
    )


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_an_image_upload_is_verified_and_stored_under_a_random_name(tenant, conversation, media, layer, publish):
    with publish():
        attachment = upload(tenant, conversation, png_bytes((7, 5)), "../../etc/photo.png", content_type="text/html")
    assert layer.sent == []  # nothing to announce until it is sent in a message
    assert attachment.content_type == "image/png"
    assert (attachment.width, attachment.height) == (7, 5)
    assert attachment.filename == "photo.png"
    assert attachment.file.name == f"attachments/{tenant.pk}/{attachment.token}"
    assert len(attachment.token) >= 32
    assert (media / attachment.file.name).read_bytes() == png_bytes((7, 5))


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"%PDF-1.4\n...", "report.pdf", "application/pdf"),
        (b"hello, world\nline 2\n", "notes.txt", "text/plain; charset=utf-8"),
        (b"a,b\n1,2\n", "table.csv", "text/csv; charset=utf-8"),
        ("caf\u00e9;1\r\n".encode("cp1252"), "excel.csv", "text/csv"),
        (b"PK\x03\x04rest-of-zip", "archive.zip", "application/zip"),
        (
            b"PK\x03\x04rest-of-docx",
            "letter.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_allowed_document_types_are_sniffed(tenant, conversation, media, data, name, expected):
    assert upload(tenant, conversation, data, name).content_type == expected


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (b"<html><script>alert(1)</script>", "page.html", "text/html"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.svg", "image/svg+xml"),
        (b"MZ\x90\x00binary", "setup.exe", "application/octet-stream"),
        (b"not really a png", "fake.png", "image/png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "broken.png", "image/png"),
        (b"\xff\xfe\x00\x00binary", "notes.txt", "text/plain"),
        ("utf-16 text".encode("utf-16"), "notes.txt", "text/plain"),
    ],
)
def test_refused_types_give_415_and_store_nothing(tenant, conversation, media, data, name, content_type):
    with pytest.raises(AttachmentTypeRefused) as exc:
        upload(tenant, conversation, data, name, content_type=content_type)
    assert exc.value.http_status == 415
    with scopes_disabled():
        assert Attachment.objects.count() == 0
    assert not (media / "attachments").exists() or not any((media / "attachments").rglob("*"))


def test_an_oversized_upload_gives_413_and_stores_nothing(tenant, conversation, media, settings):
    settings.PARLEY_ATTACHMENT_MAX_BYTES = 1000
    with pytest.raises(AttachmentTooLarge) as exc:
        upload(tenant, conversation, b"%PDF-" + b"x" * 1000, "big.pdf")
    assert exc.value.http_status == 413
    with scopes_disabled():
        assert Attachment.objects.count() == 0


def test_a_decompression_bomb_image_is_refused(tenant, conversation, media):
    buffer = io.BytesIO()
    Image.new("1", (25_000, 100)).save(buffer, "PNG")
    with pytest.raises(AttachmentTypeRefused):
        upload(tenant, conversation, buffer.getvalue(), "wide.png")


def test_an_empty_upload_is_refused(tenant, conversation, media):
    with pytest.raises(BadInput):
        upload(tenant, conversation, b"", "empty.txt")


def test_an_upload_is_sent_with_a_message_once_and_only_by_its_side(
    tenant, conversation, operator, media, layer, publish
):
    attachment = upload(tenant, conversation, png_bytes(), "a.png")
    with pytest.raises(BadInput):
        send(
            tenant,
            conversation,
            body="",
            client_id="op",
            author_type="operator",
            author=operator,
            attachment_tokens=[attachment.token],
        )
    with publish():
        message, _ = send(tenant, conversation, body="", client_id="img", attachment_tokens=[attachment.token])
    assert message.kind == "attachment"
    assert reload(attachment).message_id == message.pk
    frame = layer.frames(f"c{conversation.pk}")[0]
    assert [a["token"] for a in frame["message"]["attachments"]] == [attachment.token]
    assert frame["message"]["attachments"][0]["url"] == f"/widget/api/attachments/{attachment.token}"
    with pytest.raises(BadInput):
        send(tenant, conversation, body="again", client_id="img2", attachment_tokens=[attachment.token])


def test_an_upload_of_another_conversation_cannot_be_attached(tenant, conversation, visitor, media):
    with scopes_disabled():
        elsewhere = factories.ConversationFactory(tenant=tenant, visitor=visitor)
    attachment = upload(tenant, elsewhere, png_bytes(), "a.png")
    with pytest.raises(BadInput):
        send(tenant, conversation, body="look", attachment_tokens=[attachment.token])
    assert stored_messages(conversation) == []


def test_a_visitor_cannot_upload_into_a_closed_conversation(tenant, conversation, media):
    services.conversation_close(tenant=tenant, conversation=conversation)
    with pytest.raises(ConversationClosed):
        upload(tenant, conversation, png_bytes(), "a.png")


# --- read receipts ----------------------------------------------------------------------------


def test_mark_read_is_monotonic_marks_the_other_sides_messages_and_publishes(
    tenant, conversation, operator, layer, publish
):
    send(tenant, conversation, client_id="v1")
    send(tenant, conversation, client_id="v2")
    send(tenant, conversation, client_id="o1", author_type="operator", author=operator)
    with publish():
        services.message_mark_read(tenant=tenant, conversation=conversation, side="operator", seq=2)
    assert reload(conversation).operator_read_seq == 2
    v1, v2, o1 = stored_messages(conversation)
    assert v1.read_at and v2.read_at and o1.read_at is None
    assert sorted(layer.groups()) == sorted([f"c{conversation.pk}", f"c{conversation.pk}.ops", f"t{tenant.pk}.ops"])
    receipt = {"type": "read", "conversation": conversation.pk, "side": "operator", "seq": 2}
    assert layer.frames(f"c{conversation.pk}") == layer.frames(f"c{conversation.pk}.ops") == [receipt]
    # The lists clear their unread count from the compact item.
    assert layer.frames(f"t{tenant.pk}.ops") == [
        {"type": "list", "conversations": [{"id": conversation.pk, "operator_read_seq": 2}]}
    ]
    layer.clear()
    with publish() as callbacks:
        services.message_mark_read(tenant=tenant, conversation=conversation, side="operator", seq=1)
    assert callbacks == [] and layer.sent == []
    assert reload(conversation).operator_read_seq == 2


def test_mark_read_never_goes_past_the_last_message(tenant, conversation, layer, publish):
    send(tenant, conversation, client_id="v1")
    with publish():
        services.message_mark_read(tenant=tenant, conversation=conversation, side="operator", seq=999)
    assert reload(conversation).operator_read_seq == 1
    assert layer.frames()[0]["seq"] == 1


@pytest.mark.parametrize(("side", "seq"), [("admin", 1), ("visitor", -1), ("visitor", "3"), ("visitor", True)])
def test_mark_read_refuses_bad_input(tenant, conversation, side, seq):
    with pytest.raises(BadInput):
        services.message_mark_read(tenant=tenant, conversation=conversation, side=side, seq=seq)


# --- conversation lifecycle -------------------------------------------------------------------


def test_conversation_start_queues_a_chat_and_tells_operators_and_the_visitors_tabs(tenant, visitor, layer, publish):
    with publish():
        conversation = services.conversation_start(tenant=tenant, visitor=visitor, subject="Billing")
    assert (conversation.status, conversation.tenant_id, conversation.visitor_id) == ("queued", tenant.pk, visitor.pk)
    assert layer.groups() == [f"t{tenant.pk}.ops", f"v{visitor.pk}", f"c{conversation.pk}"]
    assert layer.sent[1][1] == {"type": "visitor.follow", "conversation": conversation.pk}
    frame = layer.frames(f"t{tenant.pk}.ops")[0]
    assert (frame["type"], frame["event"], frame["conversation"]["id"]) == ("conversation", "created", conversation.pk)
    # Routing queued it and told the visitor their place (apps/routing).
    assert layer.frames(f"c{conversation.pk}")[0]["position"] == 1


def test_open_or_start_reuses_the_open_conversation_and_starts_one_after_close(tenant, visitor, layer, publish):
    with publish():
        first, created = services.conversation_open_or_start(tenant=tenant, visitor=visitor)
    assert created and [f["event"] for f in layer.frames(f"t{tenant.pk}.ops")] == ["created"]
    layer.clear()
    with publish() as callbacks:
        again, created_again = services.conversation_open_or_start(tenant=tenant, visitor=visitor)
    assert (again.pk, created_again, callbacks) == (first.pk, False, [])
    services.conversation_close(tenant=tenant, conversation=first)
    later, created_later = services.conversation_open_or_start(tenant=tenant, visitor=visitor)
    assert created_later and later.pk != first.pk


def test_conversation_start_refuses_another_tenants_visitor_or_department(tenant, other_visitor, visitor, other_tenant):
    with scopes_disabled():
        department = factories.DepartmentFactory(tenant=other_tenant)
    with pytest.raises(NotFound):
        services.conversation_start(tenant=tenant, visitor=other_visitor)
    with pytest.raises(NotFound):
        services.conversation_start(tenant=tenant, visitor=visitor, department=department)
    with scopes_disabled():
        assert Conversation.objects.count() == 0


def test_accept_opens_the_chat_with_a_system_message_and_tells_both_sides(
    tenant, conversation, operator, layer, publish
):
    with scopes_disabled():
        operator.display_name = "Ann"
        operator.save()
    with publish():
        accepted = services.conversation_accept(tenant=tenant, conversation=conversation, membership=operator)
    assert (accepted.status, accepted.assignee_id, accepted.last_seq) == ("open", operator.pk, 1)
    [system] = stored_messages(conversation)
    assert (system.kind, system.author_type, system.data) == ("system", "system", {"event": "accepted", "name": "Ann"})
    types = [(g, f["type"], f.get("event")) for (g, _), f in zip(layer.sent, layer.frames(), strict=True)]
    assert sorted(types, key=str) == sorted(
        [
            (f"c{conversation.pk}.ops", "message", None),
            (f"t{tenant.pk}.ops", "list", None),
            (f"c{conversation.pk}", "message", None),
            (f"t{tenant.pk}.ops", "conversation", "assigned"),
            (f"c{conversation.pk}", "conversation", "assigned"),
        ],
        key=str,
    )
    visitor_summary = layer.frames(f"c{conversation.pk}")[1]["conversation"]
    assert visitor_summary["operator_name"] == "Ann"
    assert "visitor" not in visitor_summary and "assignee" not in visitor_summary


def test_accept_by_a_second_operator_is_a_conflict_and_by_the_same_one_a_no_op(
    tenant, conversation, operator, owner, layer, publish
):
    services.conversation_accept(tenant=tenant, conversation=conversation, membership=operator)
    with pytest.raises(Conflict):
        services.conversation_accept(tenant=tenant, conversation=conversation, membership=owner)
    with publish() as callbacks:
        services.conversation_accept(tenant=tenant, conversation=conversation, membership=operator)
    assert callbacks == []
    assert reload(conversation).assignee_id == operator.pk
    assert len(stored_messages(conversation)) == 1


def test_assign_gives_the_chat_to_an_operator(tenant, conversation, operator, owner, layer, publish):
    with publish():
        services.conversation_assign(tenant=tenant, conversation=conversation, assignee=operator, by=owner)
    conversation = reload(conversation)
    assert (conversation.status, conversation.assignee_id) == ("open", operator.pk)
    assert stored_messages(conversation)[0].data["event"] == "assigned"
    assert ("conversation", "assigned") in [(f["type"], f.get("event")) for f in layer.frames(f"t{tenant.pk}.ops")]


def test_transfer_to_a_department_requeues_and_keeps_the_note_private(tenant, conversation, operator, layer, publish):
    with scopes_disabled():
        department = factories.DepartmentFactory(tenant=tenant, name="Billing")
    services.conversation_accept(tenant=tenant, conversation=conversation, membership=operator)
    layer.clear()
    with publish():
        services.conversation_transfer(
            tenant=tenant, conversation=conversation, by=operator, to_department=department, note="VIP, refund"
        )
    conversation = reload(conversation)
    assert (conversation.status, conversation.assignee_id, conversation.department_id) == (
        "queued",
        None,
        department.pk,
    )
    _, system, note = stored_messages(conversation)
    assert system.data == {"event": "transferred", "name": "Billing", "to": "department"}
    assert (note.kind, note.body, note.author_id) == ("note", "VIP, refund", operator.pk)
    visitor_text = "".join(m["text"] for g, m in layer.sent if g == f"c{conversation.pk}")
    assert "VIP" not in visitor_text and "transferred" in visitor_text
    ops_events = [(f["type"], f.get("event")) for f in layer.frames(f"t{tenant.pk}.ops")]
    assert ops_events == [("list", None), ("list", None), ("conversation", "transferred")]
    watchers = [(f["type"], f["message"]["kind"]) for f in layer.frames(f"c{conversation.pk}.ops")]
    assert watchers == [("message", "system"), ("message", "note")]


def test_transfer_to_an_operator_keeps_it_open(tenant, conversation, operator, owner):
    services.conversation_accept(tenant=tenant, conversation=conversation, membership=operator)
    services.conversation_transfer(tenant=tenant, conversation=conversation, by=operator, to_membership=owner)
    conversation = reload(conversation)
    assert (conversation.status, conversation.assignee_id) == ("open", owner.pk)


def test_transfer_needs_a_target_of_the_same_tenant(tenant, conversation, operator, other_operator):
    with pytest.raises(BadInput):
        services.conversation_transfer(tenant=tenant, conversation=conversation, by=operator)
    with pytest.raises(NotFound):
        services.conversation_transfer(
            tenant=tenant, conversation=conversation, by=operator, to_membership=other_operator
        )
    assert stored_messages(conversation) == []


def test_close_then_reopen(tenant, conversation, operator, layer, publish):
    services.conversation_accept(tenant=tenant, conversation=conversation, membership=operator)
    layer.clear()
    with publish():
        closed = services.conversation_close(tenant=tenant, conversation=conversation, by=operator)
    assert closed.status == "closed" and closed.closed_at is not None
    assert [f.get("event") for f in layer.frames(f"c{conversation.pk}")] == [None, "closed"]
    layer.clear()
    with publish() as callbacks:
        services.conversation_close(tenant=tenant, conversation=conversation, by=operator)
    assert callbacks == []
    # A reopened chat stays with its operator while they are online (apps/routing requeues it otherwise).
    presence_set(tenant=tenant, membership=operator, status="online")
    layer.clear()
    with publish():
        reopened = services.conversation_reopen(tenant=tenant, conversation=conversation, by=operator)
    assert (reopened.status, reopened.closed_at, reopened.assignee_id) == ("open", None, operator.pk)
    assert [m.data.get("event") for m in stored_messages(conversation)] == ["accepted", "closed", "reopened"]
    assert [(f["type"], f.get("event")) for f in layer.frames(f"t{tenant.pk}.ops")] == [
        ("list", None),
        ("conversation", "reopened"),
    ]


def test_rate_records_the_verdict_and_refuses_other_values(tenant, conversation, layer, publish):
    with pytest.raises(BadInput):
        services.conversation_rate(tenant=tenant, conversation=conversation, rating="meh")
    with publish():
        services.conversation_rate(tenant=tenant, conversation=conversation, rating="good", comment="Quick!")
    conversation = reload(conversation)
    assert (conversation.rating, conversation.rating_comment) == ("good", "Quick!")
    assert stored_messages(conversation)[0].data == {"event": "rated", "name": "", "rating": "good"}
    assert ("conversation", "rated") in [(f["type"], f.get("event")) for f in layer.frames(f"c{conversation.pk}")]
    assert "Quick!" not in "".join(m["text"] for g, m in layer.sent if g == f"c{conversation.pk}")


# --- visitors -------------------------------------------------------------------------------


def test_identify_creates_a_visitor_with_a_fresh_id_and_records_the_page(tenant, layer, publish):
    with publish():
        visitor = services.visitor_identify(
            tenant=tenant, anonymous_id=None, url="https://shop.test/cart", title="Cart", language="pl"
        )
    assert len(visitor.anonymous_id) >= 16 and visitor.tenant_id == tenant.pk
    assert (visitor.current_url, visitor.current_title, visitor.visit_count) == ("https://shop.test/cart", "Cart", 1)
    with scopes_disabled():
        assert PageView.objects.filter(visitor=visitor).count() == 1
    assert layer.groups() == [f"t{tenant.pk}.ops"]
    assert layer.frames()[0]["visitor"]["current_url"] == "https://shop.test/cart"


def test_identify_loads_the_same_visitor_and_counts_a_new_visit_after_30_idle_minutes(tenant):
    first = services.visitor_identify(tenant=tenant, anonymous_id="anon-123456789")
    again = services.visitor_identify(tenant=tenant, anonymous_id="anon-123456789")
    assert again.pk == first.pk and again.visit_count == 1
    with scopes_disabled():
        Visitor.objects.filter(pk=first.pk).update(last_seen_at=timezone.now() - timedelta(minutes=31))
    later = services.visitor_identify(tenant=tenant, anonymous_id="anon-123456789")
    assert later.visit_count == 2 and later.is_returning


def test_identify_keeps_tenants_apart_and_ignores_malformed_input(tenant, other_tenant, other_visitor):
    mine = services.visitor_identify(
        tenant=tenant, anonymous_id=other_visitor.anonymous_id, url="javascript:alert(1)", name="x" * 500
    )
    assert mine.pk != other_visitor.pk and mine.tenant_id == tenant.pk
    assert mine.current_url == "" and len(mine.name) == 120
    forged = services.visitor_identify(tenant=tenant, anonymous_id="<script>")
    assert forged.anonymous_id != "<script>"


def test_page_view_updates_the_visitor_and_tells_operators(tenant, visitor, layer, publish):
    with publish():
        view = services.page_view_record(
            tenant=tenant, visitor=visitor, url="https://shop.test/p/1", title="Shoes", referrer="nonsense"
        )
    assert (view.url, view.referrer) == ("https://shop.test/p/1", "")
    assert reload(visitor).current_title == "Shoes"
    assert layer.frames()[0]["type"] == "visitor"


@pytest.mark.parametrize("url", ["", "javascript:alert(1)", "ftp://x.test/", "https://" + "a" * 2000, None, 5])
def test_page_view_refuses_a_bad_url(tenant, visitor, url):
    with pytest.raises(BadInput):
        services.page_view_record(tenant=tenant, visitor=visitor, url=url)
    with scopes_disabled():
        assert PageView.objects.count() == 0


def test_page_view_of_another_tenants_visitor_is_not_found(tenant, other_visitor):
    with pytest.raises(NotFound):
        services.page_view_record(tenant=tenant, visitor=other_visitor, url="https://x.test/")


def test_visitor_update_validates_and_publishes(tenant, visitor, layer, publish):
    with publish():
        services.visitor_update(tenant=tenant, visitor=visitor, name=" Ann ", email="Ann@Example.COM", phone="+48 123")
    visitor = reload(visitor)
    assert (visitor.name, visitor.email, visitor.phone) == ("Ann", "ann@example.com", "+48 123")
    assert layer.frames()[0]["visitor"]["email"] == "ann@example.com"
    with pytest.raises(BadInput):
        services.visitor_update(tenant=tenant, visitor=visitor, email="not-an-email")
    with pytest.raises(BadInput):
        services.visitor_update(tenant=tenant, visitor=visitor, phone="<b>")
    assert reload(visitor).email == "ann@example.com"


def test_visitor_note_is_kept_for_the_tenant_and_not_broadcast(
    tenant, visitor, operator, other_operator, layer, publish
):
    with publish():
        note = services.visitor_note_add(tenant=tenant, visitor=visitor, author=operator, body="Prefers email")
    assert layer.sent == []
    with scopes_disabled():
        assert VisitorNote.objects.get().pk == note.pk
    with pytest.raises(NotFound):
        services.visitor_note_add(tenant=tenant, visitor=visitor, author=other_operator, body="x")
    with pytest.raises(BadInput):
        services.visitor_note_add(tenant=tenant, visitor=visitor, author=operator, body="   ")


# --- typing -----------------------------------------------------------------------------------


async def test_a_visitors_draft_reaches_only_the_operators_watching_the_chat(layer):
    await events.publish_typing(tenant_id=1, conversation_id=2, side="visitor", on=True, draft="I want a ref")
    assert layer.groups() == ["c2.ops"]
    assert layer.frames()[0] == {
        "type": "typing",
        "conversation": 2,
        "side": "visitor",
        "on": True,
        "name": "",
        "draft": "I want a ref",
    }


async def test_an_operators_typing_reaches_the_visitor_without_a_draft(layer):
    await events.publish_typing(tenant_id=1, conversation_id=2, side="operator", on=True, draft="secret", name="Ann")
    assert sorted(layer.groups()) == ["c2", "c2.ops"]
    assert "draft" not in layer.frames("c2")[0]
    assert layer.frames("c2")[0]["name"] == "Ann"


async def test_a_draft_is_cut_to_500_characters(layer):
    await events.publish_typing(tenant_id=1, conversation_id=2, side="visitor", on=True, draft="x" * 900)
    assert len(layer.frames()[0]["draft"]) == 500


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_senders_get_distinct_gapless_sequence_numbers(tenant, visitor, operator):
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant, visitor=visitor)
    senders = 20
    barrier = threading.Barrier(senders)
    results: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            barrier.wait()
            kwargs = {"author_type": "operator", "author": operator} if i % 2 else {}
            message, created = send(tenant, conversation, body=f"m{i}", client_id=f"t-{i}", **kwargs)
            # A resend racing the first send must not add a message either.
            again, created_again = send(tenant, conversation, body=f"m{i}", client_id=f"t-{i}", **kwargs)
            assert created and not created_again and again.pk == message.pk
            with lock:
                results.append(message.seq)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(results) == list(range(1, senders + 1))
    assert [m.seq for m in stored_messages(conversation)] == list(range(1, senders + 1))
    assert reload(conversation).last_seq == senders


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_operators_racing_to_accept_one_chat_leave_exactly_one_winner(tenant, visitor):
    with scopes_disabled():
        conversation = factories.ConversationFactory(tenant=tenant, visitor=visitor)
        members = [factories.MembershipFactory(tenant=tenant) for _ in range(6)]
    barrier = threading.Barrier(len(members))
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(membership) -> None:
        try:
            barrier.wait()
            services.conversation_accept(tenant=tenant, conversation=conversation, membership=membership)
            outcome = "won"
        except Conflict:
            outcome = "conflict"
        except BaseException as exc:
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["conflict"] * 5 + ["won"]
    assert [m.data["event"] for m in stored_messages(conversation)] == ["accepted"]
    assert reload(conversation).status == "open"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tabs_starting_a_chat_at_once_share_one_conversation(tenant, visitor):
    tabs = 8
    barrier = threading.Barrier(tabs)
    results: list = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            conversation, created = services.conversation_open_or_start(tenant=tenant, visitor=visitor)
            outcome = (conversation.pk, created)
        except BaseException as exc:
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(tabs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len({pk for pk, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * (tabs - 1) + [True]
    with scopes_disabled():
        assert Conversation.objects.filter(visitor=visitor).count() == 1
