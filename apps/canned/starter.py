"""The replies every new company starts with, in its language: greetings, hold phrases,
asking for an email, closing lines. Ordinary tenant-wide replies afterwards: admins edit
or delete them like any other.

Shortcuts are the same in every language (operators type them without switching the
keyboard layout); titles, texts and tags are in the company's language.
"""

from __future__ import annotations

from django.db import transaction

from apps.accounts.models import Tenant
from apps.core.tenancy import tenant_scope

from .models import CannedReply, Scope

# (shortcut, title, text, tags)
STARTER_SETS: dict[str, list[tuple[str, str, str, str]]] = {
    "en": [
        (
            "hello",
            "Greeting",
            "Hello {{visitor.name|there}}! My name is {{operator.name}}. How can I help you?",
            "greeting",
        ),
        ("wait", "One moment", "One moment, please: I am checking this for you.", "hold"),
        ("check", "Still checking", "Thank you for waiting! I need a couple more minutes to find the answer.", "hold"),
        (
            "email",
            "Ask for an email",
            "Could you leave your email address, please? We will write to you if the chat is interrupted.",
            "email",
        ),
        (
            "later",
            "Answer by email",
            "I will find out and write to you at {{visitor.email|your email address}} today.",
            "email, hold",
        ),
        (
            "delivery",
            "Delivery times",
            "Orders usually arrive in 2-5 business days. Tell me your order number and I will check its status.",
            "delivery",
        ),
        ("more", "Anything else?", "Is there anything else I can help you with?", "closing"),
        ("bye", "Goodbye", "Thank you for contacting {{company.name}}! Have a great day.", "closing"),
    ],
    "ru": [
        (
            "hello",
            "Приветствие",
            "Здравствуйте, {{visitor.name|уважаемый клиент}}! Меня зовут {{operator.name}}. Чем могу помочь?",
            "приветствие",
        ),
        ("wait", "Одну минуту", "Одну минуту, пожалуйста: я уточняю информацию.", "ожидание"),
        ("check", "Ещё проверяю", "Спасибо за ожидание! Мне нужно ещё пару минут, чтобы найти ответ.", "ожидание"),
        (
            "email",
            "Попросить email",
            "Оставьте, пожалуйста, ваш адрес электронной почты: мы напишем вам, если чат прервётся.",
            "email",
        ),
        (
            "later",
            "Ответ по почте",
            "Я всё выясню и сегодня же напишу вам на {{visitor.email|вашу почту}}.",
            "email, ожидание",
        ),
        (
            "delivery",
            "Сроки доставки",
            "Обычно заказ приходит за 2-5 рабочих дней. Назовите номер заказа, и я проверю его статус.",
            "доставка",
        ),
        ("more", "Что-то ещё?", "Могу ли я помочь вам чем-то ещё?", "прощание"),
        ("bye", "Прощание", "Спасибо, что обратились в {{company.name}}! Хорошего дня.", "прощание"),
    ],
    "pl": [
        ("hello", "Powitanie", "Dzień dobry! Nazywam się {{operator.name}}. W czym mogę pomóc?", "powitanie"),
        ("wait", "Chwileczkę", "Proszę o chwilę cierpliwości, już to sprawdzam.", "oczekiwanie"),
        (
            "check",
            "Nadal sprawdzam",
            "Dziękuję za cierpliwość! Potrzebuję jeszcze kilku minut, żeby znaleźć odpowiedź.",
            "oczekiwanie",
        ),
        (
            "email",
            "Prośba o e-mail",
            "Proszę zostawić swój adres e-mail: napiszemy, jeśli czat zostanie przerwany.",
            "email",
        ),
        (
            "later",
            "Odpowiedź e-mailem",
            "Sprawdzę to i jeszcze dziś odpiszę na adres {{visitor.email|podany w rozmowie}}.",
            "email, oczekiwanie",
        ),
        (
            "delivery",
            "Czas dostawy",
            "Zamówienia docierają zwykle w ciągu 2-5 dni roboczych. Proszę podać numer zamówienia, "
            "a sprawdzę jego status.",
            "dostawa",
        ),
        ("more", "Coś jeszcze?", "Czy mogę pomóc w czymś jeszcze?", "pożegnanie"),
        ("bye", "Pożegnanie", "Dziękujemy za kontakt z {{company.name}}! Miłego dnia.", "pożegnanie"),
    ],
}


def canned_starter_set_create(*, tenant: Tenant, language: str | None = None) -> list[CannedReply]:
    """Give a new company the starter replies in `language` (default: its own). Skips a
    shortcut the company already uses, so running it twice adds nothing."""
    from .services import canned_reply_create

    if language not in STARTER_SETS:
        language = tenant.default_language if tenant.default_language in STARTER_SETS else "en"
    rows = STARTER_SETS[language]
    created = []
    with transaction.atomic(), tenant_scope(tenant):
        taken = set(CannedReply.objects.filter(tenant=tenant, scope=Scope.TENANT).values_list("shortcut", flat=True))
        for shortcut, title, text, tags in rows:
            if shortcut in taken:
                continue
            created.append(
                canned_reply_create(
                    tenant=tenant,
                    scope=Scope.TENANT,
                    title=title,
                    shortcut=shortcut,
                    text=text,
                    language=language,
                    tags=tags,
                )
            )
    return created
