"""Records screens for invoices and credit notes. Nothing here saves a financial field: the
actions call services, and the lines are read-only (the database refuses changes anyway).

Large tables: the changelist never counts (planner estimate), search goes through indexed
lookups only (number, external id, account id, account name prefix), the date hierarchy uses
indexed MIN() probes, and the totals row is one aggregate over the listed rows, shown once the
list is narrowed to a month (date hierarchy) or a search.
"""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Min, QuerySet
from django.db.models.functions import Upper
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from accounts.models import Account
from common.exceptions import PaydeskError
from common.money import Money
from invoices.choices import InvoiceStatus
from invoices.models import (
    BillingRun,
    CreditNote,
    CreditNoteLine,
    CustomerCreditTransaction,
    Invoice,
    InvoiceLine,
    NumberSeries,
    TaxRate,
)
from invoices.selectors import invoice_amount_due, invoice_totals
from invoices.services import invoice_finalize, invoice_void


class EstimatedCountPaginator(Paginator):
    """Never runs COUNT(*): the total is the planner's estimate, pages are plain slices."""

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        with connection.cursor() as cursor:
            if not qs.query.where:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [qs.model._meta.db_table],
                )
                row = cursor.fetchone()
                return max(int(row[0]) if row else 0, 0)
            sql, params = qs.query.sql_with_params()
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])

    def validate_number(self, number):
        try:
            return max(int(number), 1)
        except (TypeError, ValueError):
            return 1

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return Page(self.object_list[bottom : bottom + self.per_page], number, self)


class IndexedDatesQuerySet(QuerySet):
    """``dates()`` for the date hierarchy without ``SELECT DISTINCT date_trunc(...)`` over the
    whole table: one indexed MIN() per year or month that has invoices."""

    def dates(self, field_name, kind, order="ASC"):
        if kind not in ("year", "month"):
            return super().dates(field_name, kind, order)
        found = []
        current = self.aggregate(first=Min(field_name))["first"]
        # A loose index scan: from each period found, jump to the first date after it.
        while current is not None:
            day = dt.date(current.year, current.month if kind == "month" else 1, 1)
            found.append(day)
            if kind == "year":
                following = dt.date(day.year + 1, 1, 1)
            else:
                following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
            current = self.filter(**{f"{field_name}__gte": following}).aggregate(
                first=Min(field_name)
            )["first"]
        return found if order == "ASC" else found[::-1]


class CurrencyFilter(admin.SimpleListFilter):
    """Currencies from the accounts table: DISTINCT over millions of invoices would be slow."""

    title = "currency"
    parameter_name = "currency"

    def lookups(self, request, model_admin):
        currencies = Account.objects.order_by().values_list("currency", flat=True).distinct()
        return [(c, c) for c in sorted(currencies)]

    def queryset(self, request, queryset):
        return queryset.filter(currency=self.value()) if self.value() else queryset


def _money(minor: int | None, currency: str) -> str:
    return Money(minor or 0, currency).format("de_DE") if currency else ""


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InvoiceLineInline(_ReadOnlyInline):
    model = InvoiceLine
    fields = (
        "position",
        "description",
        "period_start",
        "period_end",
        "quantity",
        "unit_amount",
        "net",
        "tax_category",
        "tax_rate",
        "product_code",
        "is_adjustment",
        "usage_aggregation",
    )
    readonly_fields = fields

    @admin.display(description="net")
    def net(self, line):
        return _money(line.net_minor, line.invoice.currency)


class CreditNoteInline(_ReadOnlyInline):
    model = CreditNote
    fields = ("number", "issue_date", "gross", "reason", "pdf_link")
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="gross")
    def gross(self, note):
        return _money(note.gross_minor, note.currency)

    @admin.display(description="PDF")
    def pdf_link(self, note):
        return _credit_note_pdf_link(note)


def _credit_note_pdf_link(note) -> str:
    if note.status != "ISSUED":
        return "—"
    return _link("invoices:credit_note_pdf", note.pk)


def _link(name: str, pk: int) -> str:
    try:
        return format_html('<a href="{}">PDF</a>', reverse(name, kwargs={"pk": pk}))
    except NoReverseMatch:  # invoices.urls not mounted (a bare admin site): no link, no crash
        return "—"


class VoidForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


@admin.register(Invoice)
class InvoiceAdmin(SimpleHistoryAdmin):
    list_display = (
        "number_or_draft",
        "account",
        "status",
        "kind",
        "issue_date",
        "due_date",
        "gross",
        "amount_due",
        "pdf_link",
    )
    list_filter = ("status", "kind", CurrencyFilter)
    list_select_related = ("account",)
    date_hierarchy = "issue_date"
    search_fields = ("number",)  # see get_search_results
    search_help_text = (
        "An invoice number, an account id, ext:<external id>, or the start of the account name."
    )
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 100
    ordering = ("-id",)
    actions = ("finalize_selected", "void_selected")
    inlines = (InvoiceLineInline, CreditNoteInline)
    raw_id_fields = ("account", "subscription")
    readonly_fields = [f.name for f in Invoice._meta.concrete_fields] + ["pdf_link", "amount_due"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="number", ordering="number")
    def number_or_draft(self, invoice):
        return invoice.number or f"Draft #{invoice.pk}"

    @admin.display(description="gross")
    def gross(self, invoice):
        return _money(invoice.gross_minor, invoice.currency)

    @admin.display(description="due")
    def amount_due(self, invoice):
        return _money(invoice_amount_due(invoice), invoice.currency)

    @admin.display(description="PDF")
    def pdf_link(self, invoice):
        if invoice.status == InvoiceStatus.DRAFT:
            return "—"
        return _link("invoices:invoice_pdf", invoice.pk)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)._chain()
        queryset.__class__ = IndexedDatesQuerySet  # adds no state: only dates() differs
        return queryset

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.lower().startswith("ext:"):
            return queryset.filter(account__external_id=term[4:].strip()), False
        if term.isdigit():
            return queryset.filter(account_id=int(term)), False
        if any(ch.isdigit() for ch in term) and "-" in term:
            return queryset.annotate(number_upper=Upper("number")).filter(
                number_upper=term.upper()
            ), False
        # The ids first: with a literal list the planner reads the (account, id) index instead
        # of walking the whole table backwards by id hoping to meet those accounts.
        account_ids = list(
            Account.objects.annotate(name_upper=Upper("legal_name"))
            .filter(name_upper__startswith=term.upper())
            .values_list("pk", flat=True)[:200]
        )
        return queryset.filter(account_id__in=account_ids), False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            cl = context["cl"]
            # Totals sum the listed rows: only once they are few enough to sum quickly (a
            # month, a day, or a search), never over a whole status of millions of invoices.
            month = cl.date_hierarchy and f"{cl.date_hierarchy}__month" in request.GET
            narrowed = bool(cl.query or month)
            context["invoice_totals_narrowed"] = narrowed
            if narrowed:
                totals = invoice_totals(cl.queryset.exclude(status=InvoiceStatus.DRAFT))
                context["invoice_totals"] = [
                    {
                        "currency": currency,
                        "net": _money(t["net"], currency),
                        "tax": _money(t["tax"], currency),
                        "gross": _money(t["gross"], currency),
                    }
                    for currency, t in sorted(totals.items())
                ]
        return response

    @admin.action(description="Finalize selected drafts", permissions=["finalize"])
    def finalize_selected(self, request, queryset):
        done = 0
        for invoice in queryset.filter(status=InvoiceStatus.DRAFT).order_by("id"):
            try:
                invoice_finalize(invoice=invoice, actor=request.user)
                done += 1
            except PaydeskError as exc:
                self.message_user(request, f"Draft #{invoice.pk}: {exc.detail}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} invoice(s) finalized.", messages.SUCCESS)

    @admin.action(description="Void selected open invoices", permissions=["void"])
    def void_selected(self, request, queryset):
        form = VoidForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for invoice in queryset.order_by("id"):
                try:
                    invoice_void(
                        invoice=invoice, actor=request.user, reason=form.cleaned_data["reason"]
                    )
                    done += 1
                except PaydeskError as exc:
                    self.message_user(request, f"{invoice}: {exc.detail}", messages.ERROR)
            if done:
                self.message_user(request, f"{done} invoice(s) voided.", messages.SUCCESS)
            return None
        return render(
            request,
            "admin/invoices/invoice/void.html",
            {
                **self.admin_site.each_context(request),
                "title": "Void invoices",
                "invoices": queryset,
                "form": form,
                "action": "void_selected",
                "opts": self.model._meta,
            },
        )

    def has_finalize_permission(self, request):
        return request.user.has_perm("invoices.finalize_invoice")

    def has_void_permission(self, request):
        return request.user.has_perm("invoices.void_invoice")


class CreditNoteLineInline(_ReadOnlyInline):
    model = CreditNoteLine
    fields = ("position", "invoice_line", "description", "quantity", "net_minor", "tax_rate")
    readonly_fields = fields


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    list_display = ("number", "invoice", "account", "issue_date", "gross", "reason", "pdf_link")
    list_select_related = ("invoice", "account")
    date_hierarchy = "issue_date"
    search_fields = ("=number", "=invoice__number")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = (CreditNoteLineInline,)
    readonly_fields = [f.name for f in CreditNote._meta.concrete_fields] + ["pdf_link"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="gross")
    def gross(self, note):
        return _money(note.gross_minor, note.currency)

    @admin.display(description="PDF")
    def pdf_link(self, note):
        return _credit_note_pdf_link(note)


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ("country", "category", "rate", "valid_from", "valid_to", "name")
    list_filter = ("country", "category")


@admin.register(NumberSeries)
class NumberSeriesAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "format")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CustomerCreditTransaction)
class CustomerCreditAdmin(admin.ModelAdmin):
    list_display = (
        "account",
        "currency",
        "amount_minor",
        "kind",
        "credit_note",
        "invoice",
        "created_at",
    )
    list_select_related = ("account", "credit_note", "invoice")
    raw_id_fields = ("account", "credit_note", "invoice")
    search_fields = ("=account__external_id",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BillingRun)
class BillingRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "as_of",
        "started_at",
        "finished_at",
        "created_count",
        "skipped_count",
        "error_count",
    )
    readonly_fields = [f.name for f in BillingRun._meta.concrete_fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
