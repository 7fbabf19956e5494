from django.apps import AppConfig


class CommonConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "common"

    def ready(self) -> None:
        _history_ignores_machine_clients()


def _history_ignores_machine_clients() -> None:
    """History rows name a staff user; an API key on ``request.user`` is not one.

    simple-history takes ``request.user`` for ``history_user``; with an API key that is our
    ``ApiKeyPrincipal`` and the foreign key would refuse it. Such changes are recorded without a
    user (the API key's use is recorded on the key itself).
    """
    from django.db import models
    from simple_history.models import HistoricalRecords

    original = HistoricalRecords.get_history_user
    if getattr(original, "_paydesk_wrapped", False):
        return

    def get_history_user(self, instance):
        user = original(self, instance)
        return user if user is None or isinstance(user, models.Model) else None

    get_history_user._paydesk_wrapped = True
    HistoricalRecords.get_history_user = get_history_user
