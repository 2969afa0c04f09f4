"""The parser on the shapes real mail comes in: charsets (declared, wrong, unknown), RFC 2047/2231, HTML-only,
attachments, forwards, quoted history and signatures, broken MIME. It never raises."""

from pathlib import Path

import pytest

from apps.emailbridge.charsets import decode_bytes
from apps.emailbridge.parsing import parse_email
from tests.emailbridge.mail import build, raw

CORPUS = Path(__file__).parent / "corpus"
RUSSIAN = "Здравствуйте! Хочу купить ваш тариф на год. Сколько стоит?"
POLISH = "Dzień dobry, chciałbym kupić licencję. Zażółć gęślą jaźń."


def corpus(name: str):
    return parse_email((CORPUS / name).read_bytes())


@pytest.mark.parametrize(
    ("text", "encoding", "label"),
    [
        (RUSSIAN, "koi8-r", "koi8-r"),
        (RUSSIAN, "cp1251", "windows-1251"),
        (POLISH, "iso-8859-2", "iso-8859-2"),
        (RUSSIAN, "utf-16", "utf-16"),
        (RUSSIAN, "cp1251", "koi8-r"),  # wrong label
        (RUSSIAN, "koi8-r", "windows-1251"),  # wrong label the other way
        (POLISH, "iso-8859-2", "iso-8859-1"),  # wrong label
        (POLISH, "utf-8", "iso-8859-1"),  # UTF-8 sent as Latin-1
        (RUSSIAN, "cp1251", "x-no-such-charset"),  # unknown label
        (RUSSIAN, "koi8-r", None),  # no label
        (POLISH, "cp1250", None),
        ("Grüße aus München", "iso-8859-1", "iso-8859-1"),  # a right Latin-1 label stays right
    ],
)
def test_every_charset_decodes_to_the_original_text(text, encoding, label):
    assert decode_bytes(text.encode(encoding), label) == text


def test_a_body_in_a_wrongly_labelled_charset_reads_right():
    parsed = corpus("koi8r-labelled-cp1251.eml")
    assert parsed.text == RUSSIAN
    assert parsed.subject == "Сколько стоит?"
    assert parsed.from_name == "Петров"


@pytest.mark.parametrize(
    "name",
    ["windows-1251-qp.eml", "utf16-base64.eml", "unknown-charset-label.eml", "koi8r-labelled-cp1251.eml"],
)
def test_cyrillic_never_turns_into_question_marks(name):
    parsed = corpus(name)
    assert RUSSIAN in parsed.text
    assert "?" not in parsed.subject.replace("Сколько стоит?", "")
    assert "\ufffd" not in parsed.text + parsed.subject


def test_polish_in_a_latin1_label_and_raw_8bit_headers():
    assert corpus("iso-8859-2-labelled-latin1.eml").text == POLISH
    assert corpus("iso-8859-2-labelled-latin1.eml").subject == "Prośba o ofertę"
    parsed = corpus("undeclared-8bit-headers.eml")
    assert parsed.subject == "Pytanie o cenę"
    assert parsed.text == POLISH


def test_rfc2231_and_encoded_word_filenames_in_cyrillic_and_polish():
    parsed = corpus("rfc2231-filenames.eml")
    assert [a.filename for a in parsed.attachments] == ["Счёт.pdf", "Zamówienie łódź.txt", "фото.png"]
    assert parsed.attachments[0].payload.startswith(b"%PDF-1.4")
    assert parsed.attachments[2].content_id == "img1@example.pl"
    assert parsed.display_text == "See attached."


def test_html_only_mail_is_sanitised_and_gets_a_text_version():
    parsed = corpus("html-only-hostile.eml")
    for hostile in ("<script", "onload", "javascript:", "<iframe", "<form", "tracker.example", "<style"):
        assert hostile not in parsed.html
    assert "<h1>Заказ</h1>" in parsed.html
    assert parsed.text.startswith("Заказ\n\nPlease click or visit (https://example.com/x).")
    assert "old quoted text" in parsed.text
    assert parsed.display_text == "Заказ\n\nPlease click or visit (https://example.com/x)."


def test_a_forwarded_message_is_kept_whole_with_its_attachments():
    parsed = corpus("forwarded-rfc822.eml")
    assert "Please handle this one." in parsed.display_text
    assert "Where is my invoice?" in parsed.display_text
    assert "> quoted line in the forwarded mail" in parsed.display_text
    assert parsed.quoted is False
    assert [a.filename for a in parsed.attachments] == ["Invoice question.eml", "invoice.pdf"]


def test_outlook_history_is_folded_for_display_and_kept_in_full():
    parsed = corpus("outlook-reply.eml")
    assert parsed.display_text == "Thanks, that works for me.\n\nAnn"
    assert parsed.quoted is True
    assert "Your order has shipped." in parsed.text


def test_signature_and_gmail_quote_in_russian_are_folded():
    parsed = corpus("gmail-reply-ru.eml")
    assert parsed.display_text == "Спасибо, получил."
    assert "Иван Петров" in parsed.text and "Ваш заказ отправлен." in parsed.text


@pytest.mark.parametrize(
    "intro",
    [
        "On Mon, 30 Nov 2026 at 10:00, Shop <shop@example.com> wrote:",
        "W dniu 30.11.2026 o 10:00, Shop <shop@example.com> napisał:",
        "30.11.2026, 10:00, Shop пишет:",
    ],
)
def test_reply_intros_in_three_languages_start_the_folded_part(intro):
    parsed = parse_email(build(to="a@b.c", text=f"New text here.\n\n{intro}\n> old text\n> more\n"))
    assert parsed.display_text == "New text here."
    assert "old text" in parsed.text


def test_inline_quoting_in_the_middle_of_a_reply_is_kept():
    text = "> Do you ship to Poland?\nYes, we do.\n> And Ukraine?\nAlso yes.\n"
    parsed = parse_email(build(to="a@b.c", text=text))
    assert parsed.display_text.strip() == text.strip()


def test_rfc2047_subject_and_sender_in_several_charsets():
    message = raw(
        """From: =?iso-8859-2?Q?Pawe=B3_Nowak?= <pawel@example.pl>
To: shop@inbound.localhost
Subject: =?koi8-r?B?8NLJ18XU?= =?utf-8?Q?_i_cze=C5=9B=C4=87?=
Message-ID: <rfc2047@example.pl>""",
        b"hi",
    )
    parsed = parse_email(message)
    assert parsed.from_name == "Paweł Nowak"
    assert parsed.subject == "Привет i cześć"


@pytest.mark.parametrize(
    "name", ["malformed-content-type.eml", "content-type-garbage.eml", "deep-nesting.eml", "nul-bytes.eml"]
)
def test_broken_mime_never_raises_and_keeps_what_it_can(name):
    parsed = corpus(name)
    assert "\x00" not in parsed.text
    assert parsed.subject


def test_broken_mime_is_flagged_malformed():
    assert corpus("malformed-content-type.eml").malformed
    assert corpus("deep-nesting.eml").malformed


def test_threading_headers_are_read_without_brackets():
    message = build(
        to="a@b.c",
        headers={"In-Reply-To": "<one@x.example>", "References": "<zero@x.example> <one@x.example>"},
        message_id="<me@example.com>",
    )
    parsed = parse_email(message)
    assert parsed.message_id == "me@example.com"
    assert parsed.reference_ids == ["one@x.example", "zero@x.example"]


def test_an_mbox_from_line_is_not_a_header():
    parsed = corpus("no-message-id-mbox.eml")
    assert parsed.subject == "no id"
    assert parsed.message_id == ""
    assert parsed.from_address == "nobody@example.com"
