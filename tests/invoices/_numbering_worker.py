"""Runs in a spawned process: no Django import before ``django.setup()``."""

import os


def finalize_worker(db_name: str, ids: list[int], start, out) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.test")
    import django
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = db_name
    django.setup()
    from invoices.models import Invoice
    from invoices.services import invoice_finalize

    start.wait(timeout=60)
    numbers = []
    try:
        for invoice_id in ids:
            invoice = Invoice.objects.get(pk=invoice_id)
            numbers.append(invoice_finalize(invoice=invoice, pdf_mode="deferred").number)
    finally:
        out.put(numbers)
