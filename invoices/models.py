"""Invoices, their lines, credit notes, numbering, tax rates, customer credit and billing runs.

A finalized invoice and an issued credit note are documents: PostgreSQL triggers (``triggers.py``)
refuse any change to their amounts, lines or numbers and any delete, whatever path it comes from
(ORM save, ``QuerySet.update()``, admin, raw SQL). Corrections are credit notes.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from simple_history.models import HistoricalRecords

from invoices import triggers
from invoices.choices import (
    CreditNoteStatus,
    CreditTransactionKind,
    InvoiceKind,
    InvoiceStatus,
    TaxCategory,
)

QUANTITY = {"max_digits": 30, "decimal_places": 12}
RATE = {"max_digits": 5, "decimal_places": 2}


class NumberSeries(models.Model):
    """A numbering series, e.g. RE (invoices) or CN (credit notes), with its format."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)
    format = models.CharField(
        max_length=60,
        help_text="Python format with {code}, {year} and {seq}, e.g. RE-{year}-{seq:06d}",
    )

    class Meta:
        verbose_name_plural = "number series"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def render(self, *, year: int, seq: int) -> str:
        return self.format.format(code=self.code, year=year, seq=seq)


class NumberCounter(models.Model):
    """The last number given per series and year; locked by the finalizing transaction."""

    series = models.ForeignKey(NumberSeries, on_delete=models.PROTECT, related_name="counters")
    year = models.PositiveSmallIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "year"], name="uniq_counter_series_year")
        ]

    def __str__(self) -> str:
        return f"{self.series_id}/{self.year}: {self.last_value}"


class TaxRate(models.Model):
    """A VAT rate and the legal note printed with it, valid from ``valid_from`` to ``valid_to``
    (exclusive). Rates are data: a change of law is a new row, not a code change."""

    category = models.CharField(max_length=2, choices=TaxCategory.choices)
    country = models.CharField(max_length=2, help_text="the taxing country (the seller's)")
    rate = models.DecimalField(**RATE, help_text="percent, e.g. 19.00")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="exclusive; empty = open")
    name = models.CharField(max_length=100, blank=True)
    note_de = models.TextField(blank=True)
    note_en = models.TextField(blank=True)

    class Meta:
        ordering = ["country", "category", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "country", "rate", "valid_from"], name="uniq_tax_rate"
            ),
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lt=100), name="tax_rate_bounds"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="tax_rate_validity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.category} {self.rate} % from {self.valid_from}"

    def note(self, language: str) -> str:
        return self.note_de if language == "de" else self.note_en


class Invoice(models.Model):
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="invoices"
    )
    subscription = models.ForeignKey(
        "catalog.Subscription",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
    )
    series = models.ForeignKey(NumberSeries, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=40, null=True, blank=True, unique=True)
    sequence = models.PositiveIntegerField(null=True, blank=True, help_text="the counter value")
    status = models.CharField(
        max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    kind = models.CharField(max_length=20, choices=InvoiceKind.choices, default=InvoiceKind.MANUAL)
    billing_key = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        help_text="subscription:date for billing-run invoices; makes reruns create nothing twice",
    )
    currency = models.CharField(max_length=3)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    service_period_start = models.DateField(null=True, blank=True)
    service_period_end = models.DateField(null=True, blank=True, help_text="inclusive")
    language = models.CharField(max_length=2, blank=True)
    customer_snapshot = models.JSONField(default=dict, blank=True)
    seller_snapshot = models.JSONField(default=dict, blank=True)
    net_minor = models.BigIntegerField(default=0)
    tax_minor = models.BigIntegerField(default=0)
    gross_minor = models.BigIntegerField(default=0)
    tax_breakdown = models.JSONField(default=list, blank=True, help_text="net and tax per rate")
    tax_note = models.TextField(blank=True)
    credit_applied_minor = models.BigIntegerField(default=0, help_text="customer credit used")
    amount_paid_minor = models.BigIntegerField(default=0)
    amount_credited_minor = models.BigIntegerField(default=0, help_text="gross of credit notes")
    memo = models.TextField(blank=True)
    pdf = models.FileField(upload_to="invoices/pdf/%Y/", blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)
    uncollectible_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("finalize_invoice", "Can finalize invoices"),
            ("void_invoice", "Can void invoices"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(gross_minor=F("net_minor") + F("tax_minor")),
                name="invoice_gross_is_net_plus_tax",
            ),
            models.CheckConstraint(
                condition=(Q(status=InvoiceStatus.DRAFT) & Q(number__isnull=True))
                | (~Q(status=InvoiceStatus.DRAFT) & Q(number__isnull=False)),
                name="invoice_number_iff_finalized",
            ),
            models.CheckConstraint(
                condition=Q(credit_applied_minor__gte=0)
                & Q(amount_paid_minor__gte=0)
                & Q(amount_credited_minor__gte=0),
                name="invoice_settlements_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="invoice_currency_iso"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-id"], name="invoice_status_id"),
            models.Index(fields=["issue_date", "id"], name="invoice_issue_date"),
            # The admin's totals of a month: an index-only scan instead of heap reads.
            models.Index(
                fields=["issue_date"],
                include=["status", "currency", "net_minor", "tax_minor", "gross_minor"],
                name="invoice_issue_date_totals",
            ),
            models.Index(fields=["account", "-id"], name="invoice_account"),
            models.Index(fields=["due_date"], name="invoice_due_date"),
            models.Index(fields=["kind"], name="invoice_kind"),
            models.Index(fields=["currency"], name="invoice_currency"),
            models.Index(Upper("number"), name="invoice_number_upper"),
            models.Index(
                fields=["id"],
                condition=~Q(status=InvoiceStatus.DRAFT) & Q(pdf_sha256=""),
                name="invoice_pdf_pending",
            ),
        ]
        triggers = [triggers.INVOICE_DOCUMENT]

    def __str__(self) -> str:
        return self.number or f"Draft #{self.pk}"

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    description = models.CharField(max_length=300)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True, help_text="exclusive")
    quantity = models.DecimalField(**QUANTITY)
    unit_amount = models.DecimalField(
        **QUANTITY,
        null=True,
        blank=True,
        help_text="major units, before rounding; empty when priced as a whole (tiers)",
    )
    net_minor = models.BigIntegerField(help_text="quantity x unit amount, rounded once")
    tax_category = models.CharField(max_length=2, choices=TaxCategory.choices, blank=True)
    tax_rate = models.DecimalField(**RATE, null=True, blank=True)
    tax_rate_fixed = models.BooleanField(
        default=False, help_text="rate chosen for this line (e.g. 7 %), not from the account"
    )
    product_code = models.CharField(max_length=50, default="general")
    price = models.ForeignKey(
        "catalog.Price", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    meter_code = models.CharField(max_length=50, blank=True)
    usage_aggregation = models.JSONField(null=True, blank=True)
    is_adjustment = models.BooleanField(default=False)
    adjustment_period_start = models.DateTimeField(null=True, blank=True)
    adjustment_period_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["invoice_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="uniq_invoice_line_pos"),
        ]
        triggers = [triggers.INVOICE_LINES_FROZEN]

    def __str__(self) -> str:
        return f"{self.position}. {self.description}"


class CreditNote(models.Model):
    """A correction of an invoice ("Rechnungskorrektur"), in its own number series."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="credit_notes"
    )
    series = models.ForeignKey(NumberSeries, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=40, null=True, blank=True, unique=True)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=CreditNoteStatus.choices, default=CreditNoteStatus.DRAFT
    )
    currency = models.CharField(max_length=3)
    issue_date = models.DateField()
    reason = models.TextField()
    language = models.CharField(max_length=2, blank=True)
    customer_snapshot = models.JSONField(default=dict, blank=True)
    seller_snapshot = models.JSONField(default=dict, blank=True)
    net_minor = models.BigIntegerField(default=0)
    tax_minor = models.BigIntegerField(default=0)
    gross_minor = models.BigIntegerField(default=0)
    tax_breakdown = models.JSONField(default=list, blank=True)
    tax_note = models.TextField(blank=True)
    applied_to_invoice_minor = models.BigIntegerField(
        default=0, help_text="reduced what the customer still owed on the invoice"
    )
    to_customer_credit_minor = models.BigIntegerField(
        default=0, help_text="became customer credit (the invoice was paid already)"
    )
    pdf = models.FileField(upload_to="credit_notes/pdf/%Y/", blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(gross_minor=F("net_minor") + F("tax_minor")),
                name="credit_note_gross_is_net_plus_tax",
            ),
            models.CheckConstraint(
                condition=Q(status=CreditNoteStatus.DRAFT) | Q(number__isnull=False),
                name="credit_note_issued_has_number",
            ),
            models.CheckConstraint(
                condition=Q(applied_to_invoice_minor__gte=0) & Q(to_customer_credit_minor__gte=0),
                name="credit_note_settlement_non_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["issue_date", "id"], name="credit_note_issue_date"),
            models.Index(fields=["account", "-id"], name="credit_note_account"),
            models.Index(Upper("number"), name="credit_note_number_upper"),
        ]
        triggers = [triggers.CREDIT_NOTE_DOCUMENT]

    def __str__(self) -> str:
        return self.number or f"Credit note draft #{self.pk}"


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    invoice_line = models.ForeignKey(
        InvoiceLine, on_delete=models.PROTECT, null=True, blank=True, related_name="credit_lines"
    )
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    unit_amount = models.DecimalField(**QUANTITY, null=True, blank=True)
    net_minor = models.BigIntegerField(help_text="positive: the amount credited")
    tax_category = models.CharField(max_length=2, choices=TaxCategory.choices)
    tax_rate = models.DecimalField(**RATE)
    product_code = models.CharField(max_length=50, default="general")

    class Meta:
        ordering = ["credit_note_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["credit_note", "position"], name="uniq_cn_line_pos"),
        ]
        triggers = [triggers.CREDIT_NOTE_LINES_FROZEN]

    def __str__(self) -> str:
        return f"{self.position}. {self.description}"


class CustomerCreditTransaction(models.Model):
    """Customer credit as an append-only ledger per account and currency: + from credit notes
    exceeding what was owed, - when an invoice consumes it, + again when that invoice is voided."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="credit_transactions"
    )
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField()
    kind = models.CharField(max_length=20, choices=CreditTransactionKind.choices)
    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_note"],
                condition=Q(kind=CreditTransactionKind.CREDIT_NOTE),
                name="uniq_credit_from_credit_note",
            ),
            models.UniqueConstraint(
                fields=["invoice", "kind"],
                condition=Q(invoice__isnull=False),
                name="uniq_credit_per_invoice_kind",
            ),
            models.CheckConstraint(condition=~Q(amount_minor=0), name="credit_txn_not_zero"),
        ]
        indexes = [models.Index(fields=["account", "currency"], name="credit_txn_account")]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_minor} {self.currency}"


class InvoicePayment(models.Model):
    """A payment recorded against an invoice; the reference makes recording it idempotent."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payment_records")
    amount_minor = models.BigIntegerField()
    paid_at = models.DateTimeField()
    reference = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "reference"], name="uniq_invoice_payment_reference"
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="invoice_payment_positive"
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.amount_minor}"


class BillingRun(models.Model):
    as_of = models.DateField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["as_of"], name="billing_run_as_of")]

    def __str__(self) -> str:
        return f"Billing run {self.as_of} #{self.pk}"
