import pytest
from django_scopes import scopes_disabled

from apps.messengers import services
from apps.messengers.models import TelegramBot
from tests.messengers.fake_telegram import FakeTelegram

BASE_URL = "https://parley.example"


@pytest.fixture
def fake_telegram(settings):
    fake = FakeTelegram().start()
    settings.PARLEY_TELEGRAM_API_BASE = fake.url
    settings.PARLEY_BASE_URL = BASE_URL
    settings.PARLEY_TELEGRAM_CHAT_INTERVAL = 0
    yield fake
    fake.stop()


@pytest.fixture
def bot_token(fake_telegram):
    return fake_telegram.add_bot("acme_help_bot")


@pytest.fixture
def bot(tenant, fake_telegram, bot_token) -> TelegramBot:
    return services.telegram_bot_connect(tenant=tenant, token=bot_token)


@pytest.fixture
def other_bot_token(fake_telegram):
    return fake_telegram.add_bot("globex_bot")


@pytest.fixture
def other_bot(other_tenant, fake_telegram, other_bot_token) -> TelegramBot:
    return services.telegram_bot_connect(tenant=other_tenant, token=other_bot_token)


class TelegramUser:
    """A person writing to a bot: builds the updates Telegram would post to its webhook."""

    _next_update = 500_000

    def __init__(self, client, fake: FakeTelegram, token: str, *, user_id: int = 4242, first_name: str = "Ivan"):
        self.client, self.fake, self.token = client, fake, token
        self.user_id, self.first_name = user_id, first_name
        self.message_id = 0

    @classmethod
    def next_update_id(cls) -> int:
        cls._next_update += 1
        return cls._next_update

    def post(self, update: dict, *, secret: str | None = "from-webhook", path: str | None = None):
        hook = self.fake.webhook(self.token)
        path = path or hook["url"].removeprefix(BASE_URL)
        headers = {}
        if secret == "from-webhook":
            secret = hook["secret_token"]
        if secret is not None:
            headers["HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"] = secret
        return self.client.post(path, data=update, content_type="application/json", **headers)

    def message(self, **content) -> dict:
        self.message_id += 1
        sender = {"id": self.user_id, "is_bot": False, "first_name": self.first_name, "language_code": "ru"}
        return {
            "update_id": self.next_update_id(),
            "message": {
                "message_id": self.message_id,
                "from": sender,
                "chat": {"id": self.user_id, "first_name": self.first_name, "type": "private"},
                "date": 1_700_000_000,
                **content,
            },
        }

    def says(self, text: str, **kwargs):
        return self.post(self.message(text=text), **kwargs)


@pytest.fixture
def telegram_user(client, fake_telegram, bot, bot_token):
    return TelegramUser(client, fake_telegram, bot_token)


@pytest.fixture
def unscoped():
    with scopes_disabled():
        yield


@pytest.fixture(autouse=True)
def _media_and_cache(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Each test counts its own rate limits and holds its own flush locks.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(tmp_path)}
    }


@pytest.fixture
def run_tasks(django_capture_on_commit_callbacks):
    """Run what the code enqueues on commit (Celery is eager in tests), as a worker would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
