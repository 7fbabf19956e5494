"""Settings shared by every environment. Configuration comes from the environment."""

from pathlib import Path
from urllib.parse import unquote

import environ
from celery.schedules import crontab
from kombu import Queue

from common import infra
from common.logging import build_logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-insecure-paydesk-key-change-me-0123456789abcdef")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "simple_history",
    "import_export",
    "pgtrigger",
    "django_htmx",
    # Paydesk apps, lowest layer first (see README, architecture).
    "common",
    "staff",
    "ledger",
    "accounts",
    "catalog",
    "metering",
    "invoices",
    "payments",
    "dunning",
    "disputes",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "common.logging.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]
# PSP webhooks (billing_site/wsgi.py) need no session, user, CSRF, locale or history.
WEBHOOK_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "common.logging.RequestIdMiddleware",
]

ROOT_URLCONF = "billing_site.urls"
WSGI_APPLICATION = "billing_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {"default": env.db_url_config(infra.database_url())}
# A socket directory arrives percent-encoded in the URL's host part.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"])
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "staff:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media"))
MEDIA_URL = "media/"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="billing@paydesk.example")

# --- Logging: JSON lines, request ids, card numbers and secrets scrubbed -------------------
LOGGING = build_logging_config(
    level=env("LOG_LEVEL", default="INFO"), json=env.bool("LOG_JSON", default=True)
)

# --- API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "common.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["common.api.permissions.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "common.api.problems.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env("API_RATE", default="100000/hour")},
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Paydesk API",
    "DESCRIPTION": "Billing and payments back office. Errors are RFC 9457 problem documents.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)

# --- Celery ------------------------------------------------------------------------------
REDIS_URL = infra.redis_url()
CELERY_BROKER_URL = REDIS_URL
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL.replace("redis+socket://", "unix://"),
        "KEY_PREFIX": "paydesk",
    }
}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task whose worker died unacknowledged goes back to the queue after this many seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
}
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue("default"), Queue("psp"), Queue("dunning"), Queue("exports")]
CELERY_TASK_ROUTES = {
    "payments.*": {"queue": "psp"},
    "dunning.*": {"queue": "dunning"},
    "reports.export_*": {"queue": "exports"},
}
CELERY_BEAT_SCHEDULE = {
    "common.health": {"task": "common.health", "schedule": 60.0},
    "catalog.advance_subscriptions": {
        "task": "catalog.advance_subscriptions",
        "schedule": crontab(minute=5),
    },
    "invoices.billing_run": {"task": "invoices.billing_run", "schedule": crontab(hour=1, minute=0)},
    "invoices.render_pending_pdfs": {"task": "invoices.render_pending_pdfs", "schedule": 300.0},
    "payments.sync_unknown": {"task": "payments.sync_unknown", "schedule": 300.0},
    "payments.import_payouts": {
        "task": "payments.import_payouts",
        "schedule": crontab(minute=25),
    },
    "payments.drain_webhooks": {"task": "payments.drain_webhooks", "schedule": 60.0},
    "common.purge_idempotency_keys": {
        "task": "common.purge_idempotency_keys",
        "schedule": crontab(minute=17),
    },
}

# --- PSPs ------------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
BRAINTREE_ENVIRONMENT = env("BRAINTREE_ENVIRONMENT", default="sandbox")
BRAINTREE_MERCHANT_ID = env("BRAINTREE_MERCHANT_ID", default="")
BRAINTREE_PUBLIC_KEY = env("BRAINTREE_PUBLIC_KEY", default="")
BRAINTREE_PRIVATE_KEY = env("BRAINTREE_PRIVATE_KEY", default="")
STRIPE_TIMEOUT_S = env.float("STRIPE_TIMEOUT_S", default=20.0)
BRAINTREE_TIMEOUT_S = env.float("BRAINTREE_TIMEOUT_S", default=20.0)

PAYDESK_PAYMENT_TERMS_DAYS = env.int("PAYDESK_PAYMENT_TERMS_DAYS", default=14)
METERING_MAX_BODY_BYTES = env.int("METERING_MAX_BODY_BYTES", default=5 * 1024 * 1024)

# --- The seller, printed on every invoice ---------------------------------------------------
PAYDESK_SELLER = {
    "name": env("SELLER_NAME", default="Nimbus Cloud GmbH"),
    "street": env("SELLER_STREET", default="Friedrichstraße 68"),
    "postcode": env("SELLER_POSTCODE", default="10117"),
    "city": env("SELLER_CITY", default="Berlin"),
    "country": env("SELLER_COUNTRY", default="DE"),
    "vat_id": env("SELLER_VAT_ID", default="DE136695976"),
    "tax_number": env("SELLER_TAX_NUMBER", default="30/123/45678"),
    "email": env("SELLER_EMAIL", default="billing@nimbus.example"),
    "iban": env("SELLER_IBAN", default="DE89370400440532013000"),
}
