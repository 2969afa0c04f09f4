"""Parley settings: one module, every value read from the environment.

Development defaults are safe (DEBUG off, SQLite, local Redis); production sets
DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL, DJANGO_ALLOWED_HOSTS and the email
settings. `manage.py check --deploy` is clean when those are set.
"""

import json
import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
# The development key starts with "django-insecure-" so `check --deploy` flags it.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "django-insecure-parley-development-key-change-me")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# Public base URL, used in the widget snippet, invitation links and emails.
PARLEY_BASE_URL = env_str("PARLEY_BASE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "apps.core.admin_config.ParleyAdminConfig",  # django.contrib.admin with Parley's tenant-scoped site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "apps.core",
    "apps.accounts",
    "apps.conversations",
    "apps.widget",
    "apps.dashboard",
    "apps.identity",
    "apps.invoices",
    "apps.canned",
    "apps.routing",
    "anymail",
    "apps.emailbridge",
    "apps.messengers",
    # Visitors' social login (apps/visitorlogin, docs/visitor-login.md); never operators'.
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.facebook",
    "allauth.socialaccount.providers.apple",
    "allauth.socialaccount.providers.microsoft",
    "allauth.socialaccount.providers.vk",
    "allauth.socialaccount.providers.yandex",
    "allauth.socialaccount.providers.mailru",
    "apps.visitorlogin",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.querystrings.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "apps.core.ratelimit.OperatorApiRateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so the whole view (template rendering included) runs inside the tenant scope.
    "apps.core.tenancy.TenantScopeMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.tenancy",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let web, worker and beat share the file during `make run`.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
    # A connection pool (psycopg_pool): every websocket frame that touches the database would
    # otherwise open a new connection (about 9 ms on loopback, measured in bench/). Each daphne
    # or Celery process keeps its own pool; size it so processes x max_size fits max_connections.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2),
            "max_size": env_int("DATABASE_POOL_MAX_SIZE", 20),
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
        }
    }
# Row-level security as the second tenancy wall (apps/core/rls.py, docs/security.md): on PostgreSQL
# every connection works as PARLEY_DB_APP_ROLE (no BYPASSRLS) and `scopes_disabled()` as
# PARLEY_DB_BYPASS_ROLE; `migrate` creates both roles and the policies.
PARLEY_DB_RLS = env_bool("PARLEY_DB_RLS", True)
PARLEY_DB_APP_ROLE = env_str("PARLEY_DB_APP_ROLE", "parley_app")
PARLEY_DB_BYPASS_ROLE = env_str("PARLEY_DB_BYPASS_ROLE", "parley_bypass")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and PARLEY_DB_RLS:
    DATABASES["default"]["ENGINE"] = "apps.core.db"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

# django-allauth: email login; companies sign up through /signup/, operators by invitation.
ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
MFA_ADAPTER = "apps.accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Parley"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian")), ("pl", _("Polish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("PARLEY_MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or env_bool("PARLEY_PLAIN_STATIC", False)
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or env_bool("PARLEY_PLAIN_STATIC", False)

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "parley",
    }
}
# The channel layer only carries hints: the database is the source of truth and
# clients resync by sequence number, so a dropped event costs a fetch, never a message.
CHANNEL_LAYER_BACKEND = env_str("CHANNEL_LAYER_BACKEND", "channels_redis.pubsub.RedisPubSubChannelLayer")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": CHANNEL_LAYER_BACKEND,
        # Redis pub/sub ignores the database number: processes sharing one Redis server
        # (two deployments, parallel test runs) keep apart by prefix.
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNEL_LAYER_PREFIX", "parley")},
    }
}
# Budgets per person across all their sockets and processes (apps/core/budgets.py, docs/security.md).
PARLEY_PERSON_FRAMES_PER_SECOND = float(env_str("PARLEY_PERSON_FRAMES_PER_SECOND", "10"))
PARLEY_PERSON_FRAME_BURST = env_int("PARLEY_PERSON_FRAME_BURST", 40)
PARLEY_SOCKETS_PER_VISITOR = env_int("PARLEY_SOCKETS_PER_VISITOR", 12)
# Redis connections per process for those budgets (a frame waits for a free one, up to 2 s).
PARLEY_BUDGET_REDIS_CONNECTIONS = env_int("PARLEY_BUDGET_REDIS_CONNECTIONS", 16)
# Requests a minute one signed-in person may make to the dashboard's JSON API (/app/api/).
PARLEY_OPERATOR_API_PER_MINUTE = env_int("PARLEY_OPERATOR_API_PER_MINUTE", 600)
# Open sockets re-add themselves to their groups this often (core layer memberships expire or vanish with Redis).
PARLEY_SOCKET_GROUP_REFRESH_SECONDS = env_int("PARLEY_SOCKET_GROUP_REFRESH_SECONDS", 15)
# The lists' `list` frames: at most one per tenant per this many seconds (0: each change at once; docs/protocol.md).
PARLEY_LIST_COALESCE_SECONDS = float(env_str("PARLEY_LIST_COALESCE_SECONDS", "0.25"))

# Who gets a new conversation (apps.conversations.services.conversation_route calls it in the start transaction).
PARLEY_CONVERSATION_ROUTER = "apps.routing.hooks.conversation_started"

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE: dict = {
    # Inbound mail a dead worker left unparsed is enqueued again (apps/emailbridge).
    "emailbridge-sweep": {"task": "emailbridge.sweep", "schedule": 60.0},
    # Offer expiries, retention, SLA breaches, queue timeouts, presence grace periods (apps/routing).
    "routing-sweep": {"task": "routing.sweep", "schedule": float(env_str("PARLEY_ROUTING_SWEEP_SECONDS", "2"))},
    "routing-presence-audit": {"task": "routing.presence_audit", "schedule": 30.0},
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Parley <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Each tenant's inbound address is <token>@PARLEY_INBOUND_DOMAIN.
PARLEY_INBOUND_DOMAIN = env_str("PARLEY_INBOUND_DOMAIN", "inbound.localhost")
# The email bridge (docs/email.md): Parley's SMTP server and the providers' inbound webhooks.
PARLEY_EMAIL_MAX_BYTES = env_int("PARLEY_EMAIL_MAX_BYTES", 25 * 1024 * 1024)
PARLEY_SMTP_HOST = env_str("PARLEY_SMTP_HOST", "127.0.0.1")
PARLEY_SMTP_PORT = env_int("PARLEY_SMTP_PORT", 2525)
# Conversation mail goes out From this address (default: DEFAULT_FROM_EMAIL's), named after the company.
PARLEY_EMAIL_FROM_ADDRESS = env_str("PARLEY_EMAIL_FROM_ADDRESS")
ANYMAIL = {
    "MAILGUN_WEBHOOK_SIGNING_KEY": env_str("MAILGUN_WEBHOOK_SIGNING_KEY"),
    # "user:password" for the Postmark and Amazon SES inbound webhooks (basic auth).
    "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET") or None,
}
# Amazon SNS signs every message; only certificates from these URLs are trusted, and only these topics.
PARLEY_SNS_CERT_URL_PATTERN = env_str(
    "PARLEY_SNS_CERT_URL_PATTERN", r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/SimpleNotificationService-[0-9a-f]+\.pem$"
)
PARLEY_SNS_TOPIC_ARNS = env_list("PARLEY_SNS_TOPIC_ARNS")
PARLEY_INVITATION_MAX_AGE = env_int("PARLEY_INVITATION_MAX_AGE", 7 * 24 * 3600)
# Largest file a visitor or an operator may send in a chat.
PARLEY_ATTACHMENT_MAX_BYTES = env_int("PARLEY_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)

# Payments (apps/invoices). Provider keys are per tenant, entered in the admin and stored
# encrypted with a key derived from this secret (SECRET_KEY when unset).
PARLEY_PAYMENT_KEYS_SECRET = env_str("PARLEY_PAYMENT_KEYS_SECRET")
# Where the provider SDKs send their API calls: the providers' own hosts unless set (tests use loopback fakes).
PARLEY_STRIPE_API_BASE = env_str("PARLEY_STRIPE_API_BASE")
PARLEY_YOOKASSA_API_URL = env_str("PARLEY_YOOKASSA_API_URL", "https://api.yookassa.ru/v3")
# Seconds a Stripe webhook signature's timestamp may lag (Stripe's own default).
PARLEY_STRIPE_WEBHOOK_TOLERANCE = env_int("PARLEY_STRIPE_WEBHOOK_TOLERANCE", 300)
CELERY_BEAT_SCHEDULE["invoices-expire-overdue"] = {"task": "invoices.expire_overdue", "schedule": 3600.0}

# Telegram (apps/messengers, docs/telegram.md). Bot tokens are per tenant, entered in the admin and
# stored encrypted like payment keys. The API base is Telegram's unless set (tests use a loopback fake).
PARLEY_TELEGRAM_API_BASE = env_str("PARLEY_TELEGRAM_API_BASE", "https://api.telegram.org")
# How long a "Continue in Telegram" deep link works (single use).
PARLEY_TELEGRAM_LINK_MINUTES = env_int("PARLEY_TELEGRAM_LINK_MINUTES", 10)
# Telegram's limits: about one message per second in a chat, about 30 per second per bot.
PARLEY_TELEGRAM_CHAT_INTERVAL = float(env_str("PARLEY_TELEGRAM_CHAT_INTERVAL", "1.0"))
PARLEY_TELEGRAM_PER_SECOND = env_int("PARLEY_TELEGRAM_PER_SECOND", 30)
# Visitors' social login: allauth's providers with each tenant's own client (admin); never a user login.
SOCIALACCOUNT_ADAPTER = "apps.visitorlogin.adapter.VisitorLoginAdapter"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_AUTO_SIGNUP = False
# Minutes a login popup's nonce works (single use).
PARLEY_VISITOR_LOGIN_MINUTES = env_int("PARLEY_VISITOR_LOGIN_MINUTES", 5)
# JSON: a provider's endpoints on another, compatible server (staging; the tests' loopback fake),
# e.g. {"google": {"authorize_url": ..., "access_token_url": ..., "identity_url": ...}}. Empty: the providers' own.
PARLEY_OAUTH_ENDPOINTS = json.loads(env_str("PARLEY_OAUTH_ENDPOINTS", "{}") or "{}")
CELERY_BEAT_SCHEDULE["messengers-telegram-sweep"] = {"task": "messengers.telegram_sweep", "schedule": 60.0}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "Parley API", "VERSION": "1"}

# Security: secure cookies and HSTS unless explicitly running over plain HTTP in development.
SECURE_SSL = env_bool("DJANGO_SECURE_SSL", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
SECURE_SSL_REDIRECT = SECURE_SSL and env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_SSL else None
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if SECURE_SSL else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL
SECURE_HSTS_PRELOAD = SECURE_SSL
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every page (django-csp): scripts, styles, frames and sockets from
# Parley's own origin only, no inline script or style. The widget iframe sends its own policy
# with the tenant's `frame-ancestors` (apps/widget/views.py). docs/security.md.
_BASE_ORIGIN = PARLEY_BASE_URL
_BASE_SOCKET = PARLEY_BASE_URL.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", _BASE_ORIGIN],
        "style-src": ["'self'"],
        # https: for the avatars a tenant's site signs for its users (apps/identity); images only.
        "img-src": ["'self'", "data:", "blob:", "https:"],
        "media-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", _BASE_ORIGIN, _BASE_SOCKET],
        "frame-src": ["'self'", _BASE_ORIGIN],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # fpdf2's font subsetting logs every glyph at INFO.
    "loggers": {"fontTools": {"level": "WARNING"}},
}
