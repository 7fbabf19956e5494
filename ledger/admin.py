"""Browsing the ledger. Nothing here writes: the journal is append-only and posted by services."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from common.admin import FastAdminMixin
from common.money import Money
from ledger.models import JournalEntry, JournalLine, LedgerAccount


class _ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _amount(minor: int, currency: str) -> str:
    return str(Money(minor, currency).to_decimal()) if minor else ""


@admin.register(LedgerAccount)
class LedgerAccountAdmin(_ReadOnly, SimpleHistoryAdmin):
    list_display = ("code", "name", "type", "kind", "key", "lines_link")
    list_filter = ("type", "kind")
    search_fields = ("=code", "name", "=key")

    @admin.display(description="Lines")
    def lines_link(self, obj):
        url = reverse("admin:ledger_journalline_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('<a href="{}">lines</a>', url)


class JournalLineInline(_ReadOnly, admin.TabularInline):
    model = JournalLine
    extra = 0
    fields = ("account", "debit", "credit", "currency", "tax_code", "text", "open_item")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")

    @admin.display(description="Debit")
    def debit(self, obj):
        return _amount(obj.debit_minor, obj.currency)

    @admin.display(description="Credit")
    def credit(self, obj):
        return _amount(obj.credit_minor, obj.currency)


@admin.register(JournalEntry)
class JournalEntryAdmin(_ReadOnly, FastAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "entry_date",
        "document_type",
        "document_number",
        "memo",
        "party",
        "reversal_of",
        "posted_at",
    )
    list_filter = ("document_type", "entry_date")
    search_fields = ("=document_number", "=document_id", "=party", "=idempotency_key")
    date_hierarchy = "entry_date"
    # Posting order, newest first: keyset paging by id. A date period orders by entry date.
    ordering = ("-id",)
    list_select_related = ("reversal_of",)
    inlines = [JournalLineInline]
    readonly_fields = [f.name for f in JournalEntry._meta.fields]


@admin.register(JournalLine)
class JournalLineAdmin(_ReadOnly, FastAdminMixin, admin.ModelAdmin):
    list_display = (
        "entry_link",
        "entry_date",
        "document_number",
        "account",
        "debit",
        "credit",
        "currency",
        "tax_code",
        "text",
    )
    # No filters over distinct values (currency, tax code): each would scan the whole table.
    # ``?currency__exact=EUR`` still works in the URL, as the trial balance page links it.
    list_filter = ("account",)
    search_fields = ("=entry__document_number", "=open_item")
    date_hierarchy = "entry__entry_date"
    ordering = ("-id",)
    list_select_related = ("entry", "account")
    readonly_fields = [f.name for f in JournalLine._meta.fields]

    @admin.display(description="Entry")
    def entry_link(self, obj):
        url = reverse("admin:ledger_journalentry_change", args=[obj.entry_id])
        return format_html('<a href="{}">#{}</a>', url, obj.entry_id)

    @admin.display(description="Date", ordering="entry__entry_date")
    def entry_date(self, obj):
        return obj.entry.entry_date

    @admin.display(description="Document")
    def document_number(self, obj):
        return obj.entry.document_number or f"{obj.entry.document_type} {obj.entry.document_id}"

    @admin.display(description="Debit")
    def debit(self, obj):
        return _amount(obj.debit_minor, obj.currency)

    @admin.display(description="Credit")
    def credit(self, obj):
        return _amount(obj.credit_minor, obj.currency)
