"""Indexes for the admin's filters, searches and orderings (added only, built concurrently
so the tables stay writable)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("payments", "0002_role_permissions"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["status", "-id"], name="payment_status_id"),
        ),
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["provider", "-id"], name="payment_provider_id"),
        ),
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["currency", "-id"], name="payment_currency_id"),
        ),
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["method", "-id"], name="payment_method_id"),
        ),
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["psp_payment_id"], name="payment_psp_payment_id"),
        ),
        AddIndexConcurrently(
            model_name="payment",
            index=models.Index(fields=["reference"], name="payment_reference"),
        ),
        AddIndexConcurrently(
            model_name="refund",
            index=models.Index(fields=["status", "-id"], name="refund_status_id"),
        ),
        AddIndexConcurrently(
            model_name="refund",
            index=models.Index(fields=["origin", "-id"], name="refund_origin_id"),
        ),
        AddIndexConcurrently(
            model_name="refund",
            index=models.Index(fields=["reason", "-id"], name="refund_reason_id"),
        ),
        AddIndexConcurrently(
            model_name="refund",
            index=models.Index(fields=["provider", "-id"], name="refund_provider_id"),
        ),
        AddIndexConcurrently(
            model_name="refund",
            index=models.Index(fields=["currency", "-id"], name="refund_currency_id"),
        ),
        AddIndexConcurrently(
            model_name="refund",
            index=models.Index(fields=["psp_refund_id"], name="refund_psp_refund_id"),
        ),
        AddIndexConcurrently(
            model_name="webhookdelivery",
            index=models.Index(fields=["provider", "-id"], name="webhook_provider_id"),
        ),
        AddIndexConcurrently(
            model_name="webhookdelivery",
            index=models.Index(fields=["kind", "-id"], name="webhook_kind_id"),
        ),
        AddIndexConcurrently(
            model_name="webhookdelivery",
            index=models.Index(fields=["dedup_key"], name="webhook_dedup_key"),
        ),
        AddIndexConcurrently(
            model_name="webhookdelivery",
            index=models.Index(
                fields=["-id"],
                condition=models.Q(signature_valid=False),
                name="webhook_bad_signature",
            ),
        ),
    ]
