"""Browsing and correcting payments. Business changes go through services, never ``.save()``."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q
from django.db.models.functions import Upper

from accounts.models import Account
from common.admin import FastAdminMixin
from invoices.models import Invoice
from payments.models import (
    Payment,
    PaymentEvent,
    Payout,
    PayoutLine,
    ReconciliationLine,
    ReconciliationReport,
    Refund,
    WebhookDelivery,
)
from payments.webhooks.processing import delivery_reprocess


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PaymentEventInline(ReadOnlyMixin, admin.TabularInline):
    model = PaymentEvent
    fields = ["at", "source", "kind", "from_status", "to_status", "refund", "actor"]
    readonly_fields = fields
    extra = 0
    ordering = ["at", "pk"]


class RefundInline(ReadOnlyMixin, admin.TabularInline):
    model = Refund
    fields = ["amount_minor", "currency", "status", "reason", "origin", "psp_refund_id"]
    readonly_fields = fields
    extra = 0


@admin.register(Payment)
class PaymentAdmin(ReadOnlyMixin, FastAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "account",
        "invoice",
        "provider",
        "amount_minor",
        "currency",
        "amount_refunded_minor",
        "status",
        "decline_code",
    ]
    list_filter = ["status", "provider", "currency", "method"]
    search_fields = ["=psp_payment_id", "=attempt_key", "=invoice__number", "=reference"]
    search_help_text = (
        "A PSP payment id, attempt key, invoice number, transfer reference, or the start of "
        "the account name."
    )
    list_select_related = ["account", "invoice"]
    date_hierarchy = "created_at"
    ordering = ["-id"]
    inlines = [RefundInline, PaymentEventInline]
    readonly_fields = [f.name for f in Payment._meta.fields]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # Literal id lists for the account name and the invoice number keep every branch of
        # the OR on an index of the payment table (no join, no subplan per row).
        account_ids = list(
            Account.objects.annotate(name_upper=Upper("legal_name"))
            .filter(name_upper__startswith=term.upper())
            .order_by()
            .values_list("pk", flat=True)[:200]
        )
        invoice_ids = list(Invoice.objects.filter(number=term).values_list("pk", flat=True))
        return queryset.filter(
            Q(psp_payment_id=term)
            | Q(attempt_key=term)
            | Q(reference=term)
            | Q(invoice_id__in=invoice_ids)
            | Q(account_id__in=account_ids)
        ), False


@admin.register(Refund)
class RefundAdmin(ReadOnlyMixin, FastAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "payment",
        "amount_minor",
        "currency",
        "status",
        "reason",
        "origin",
        "requested_by",
        "approval",
    ]
    list_filter = ["status", "origin", "reason", "provider", "currency"]
    search_fields = ["=psp_refund_id", "=attempt_key", "=payment__psp_payment_id"]
    list_select_related = ["payment", "requested_by", "approval"]
    ordering = ["-id"]
    readonly_fields = [f.name for f in Refund._meta.fields]


class FailedFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("failed", "Failed processing"), ("invalid", "Bad signature")]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(status="FAILED")
        if self.value() == "invalid":
            return queryset.filter(signature_valid=False)
        return queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, FastAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "received_at",
        "provider",
        "event_type",
        "object_id",
        "status",
        "signature_valid",
        "attempts",
        "note",
    ]
    list_filter = [FailedFilter, "status", "provider", "kind"]
    search_fields = ["=dedup_key", "=object_id"]
    list_select_related = False  # no relations listed
    ordering = ["-id"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["reprocess"]

    @admin.action(description="Reprocess the selected deliveries")
    def reprocess(self, request, queryset):
        from payments.tasks import process_webhook

        count = 0
        for delivery in queryset.filter(signature_valid=True).exclude(status="PROCESSED"):
            delivery_reprocess(delivery_id=delivery.pk)
            process_webhook.apply_async(args=[delivery.pk])
            count += 1
        self.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)

    def has_change_permission(self, request, obj=None):
        # The action needs it; the form itself stays read-only.
        return request.user.is_superuser or request.user.has_perm("payments.view_reconciliation")


class PayoutLineInline(ReadOnlyMixin, admin.TabularInline):
    model = PayoutLine
    fields = [
        "kind",
        "psp_object_id",
        "psp_payment_id",
        "gross_minor",
        "fee_minor",
        "net_minor",
        "payment",
        "refund",
    ]
    readonly_fields = fields
    extra = 0


@admin.register(Payout)
class PayoutAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "provider",
        "psp_payout_id",
        "amount_minor",
        "fee_minor",
        "currency",
        "arrival_date",
        "status",
    ]
    list_filter = ["provider", "status", "currency"]
    search_fields = ["=psp_payout_id"]
    show_full_result_count = False
    inlines = [PayoutLineInline]


class ReconciliationLineInline(ReadOnlyMixin, admin.TabularInline):
    model = ReconciliationLine
    fields = ["kind", "psp_object_id", "payment", "refund", "ours_minor", "psp_minor", "note"]
    readonly_fields = fields
    extra = 0


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "payout",
        "currency",
        "expected_minor",
        "received_minor",
        "matched_count",
        "difference_count",
        "created_at",
    ]
    list_select_related = ["payout"]
    list_filter = ["payout__provider", "currency"]
    show_full_result_count = False
    inlines = [ReconciliationLineInline]
