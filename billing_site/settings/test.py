from .base import *  # noqa: F403
from .base import DATABASES, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each parallel run on a shared server gets its own test database name.
DATABASES["default"]["TEST"] = {"NAME": env("PAYDESK_TEST_DB", default="test_paydesk")}
DATABASES["default"]["CONN_MAX_AGE"] = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING = build_logging_config(level="WARNING", json=True)  # noqa: F405
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "100000/hour"}}  # noqa: F405
