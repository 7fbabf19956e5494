"""The v1 API: each app that has ``<app>/api/urls.py`` contributes its ``urlpatterns``."""

import importlib

from django.conf import settings

LOCAL_APPS = [
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


def api_v1() -> list:
    patterns: list = []
    for app in LOCAL_APPS:
        if app not in settings.INSTALLED_APPS:
            continue
        try:
            module = importlib.import_module(f"{app}.api.urls")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"{app}.api", f"{app}.api.urls"):
                raise
            continue
        patterns.extend(module.urlpatterns)
    return patterns
