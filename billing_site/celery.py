"""The Celery app. Settings live in Django settings under the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.dev")

app = Celery("paydesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
