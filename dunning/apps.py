from django.apps import AppConfig


class DunningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dunning"
