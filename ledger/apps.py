from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_chart(sender, using="default", **kwargs) -> None:
    # Reference data must exist after every migrate or flush, not only after the first one.
    from django.db import connections

    from ledger.chart import ensure_chart

    if "ledger_ledgeraccount" not in connections[using].introspection.table_names():
        return  # a partial migrate that has not reached the ledger tables yet

    ensure_chart()


class LedgerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ledger"

    def ready(self) -> None:
        post_migrate.connect(_ensure_chart, sender=self, dispatch_uid="ledger.ensure_chart")
