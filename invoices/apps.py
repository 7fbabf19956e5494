from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _seed_reference_data(sender, using="default", **kwargs) -> None:
    # VAT rates and number series must exist after every migrate or flush (idempotent).
    import importlib

    from django.apps import apps
    from django.db import connections

    tables = connections[using].introspection.table_names()
    if "invoices_taxrate" not in tables or "invoices_numberseries" not in tables:
        return  # a partial migrate that has not reached the invoices tables yet

    seed = importlib.import_module("invoices.migrations.0002_seed_tax_rates_and_series").seed
    seed(apps, None)


class InvoicesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "invoices"

    def ready(self) -> None:
        post_migrate.connect(
            _seed_reference_data, sender=self, dispatch_uid="invoices.seed_reference_data"
        )
