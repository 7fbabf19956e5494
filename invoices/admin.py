"""Records screens for invoices and credit notes. Nothing here saves a financial field: the
actions call services, and the lines are read-only (the database refuses changes anyway).

Large tables: the changelist is ``common.admin.FastAdminMixin`` (estimated or capped counts,
keyset paging, indexed date hierarchy); search goes through indexed lookups only (number,
external id, account id, account name prefix); the totals row is one aggregate over the listed
rows, shown once the list is narrowed to a month or day (an index-only scan of
``invoice_issue_date_totals``) or a search (one account's invoices).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models.functions import Upper
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from accounts.models import Account
from common.admin import FastAdminMixin
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
class InvoiceAdmin(FastAdminMixin, SimpleHistoryAdmin):
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
            # month or day: an index-only scan; a search matching fewer rows than the count
            # cap), never over a whole status of millions of invoices.
            month = cl.date_hierarchy and f"{cl.date_hierarchy}__month" in request.GET
            bounded_search = cl.query and not cl.paginator.count_is_capped
            narrowed = bool(bounded_search or month)
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
class CreditNoteAdmin(FastAdminMixin, admin.ModelAdmin):
    list_display = ("number", "invoice", "account", "issue_date", "gross", "reason", "pdf_link")
    list_select_related = ("invoice", "account")
    date_hierarchy = "issue_date"
    search_fields = ("=number", "=invoice__number")
    ordering = ("-id",)
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


# --- subscription changes that bill at once ---------------------------------------------------
# Catalog's SubscriptionAdmin cannot import invoices (layering), so invoices extends it here with
# the two actions whose proration it bills, and registers the extended admin in its place.

from catalog.admin import SubscriptionAdmin as _CatalogSubscriptionAdmin  # noqa: E402
from catalog.choices import PLAN_CHANGEABLE, SubscriptionStatus  # noqa: E402
from catalog.models import Plan, Subscription  # noqa: E402


class PlanChangeForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.none(), label="New plan")

    def __init__(self, *args, subscription, **kwargs):
        super().__init__(*args, **kwargs)
        # Only plans the change service accepts: same currency and billing period, offered.
        self.fields["plan"].queryset = Plan.objects.filter(
            active=True,
            currency=subscription.plan.currency,
            billing_period=subscription.plan.billing_period,
        ).exclude(pk=subscription.plan_id)


class CancelNowForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=1000, required=False
    )


class SubscriptionChangesAdmin(_CatalogSubscriptionAdmin):
    actions = [*_CatalogSubscriptionAdmin.actions, "change_plan_action", "cancel_now_action"]

    def has_prorate_permission(self, request):
        return request.user.has_perm("catalog.change_subscription") and request.user.has_perm(
            "invoices.finalize_invoice"
        )

    def _intermediate(self, request, template, context):
        return render(
            request,
            template,
            {**self.admin_site.each_context(request), "opts": self.model._meta, **context},
        )

    def _report(self, request, subscription, result) -> None:
        documents = [str(n) for n in result.credit_notes]
        if result.invoice is not None:
            documents.append(str(result.invoice))
        billed = ", ".join(documents) if documents else "nothing to bill"
        self.message_user(request, f"#{subscription.pk}: done ({billed}).", messages.SUCCESS)

    @admin.action(description="Change plan… (bills the proration now)", permissions=["prorate"])
    def change_plan_action(self, request, queryset):
        from invoices.proration import subscription_change_plan_and_invoice

        subscriptions = list(queryset.select_related("plan")[:2])
        if len(subscriptions) != 1:
            self.message_user(request, "Select one subscription to change.", messages.ERROR)
            return None
        subscription = subscriptions[0]
        if subscription.status not in PLAN_CHANGEABLE:
            self.message_user(
                request, f"#{subscription.pk}: its plan cannot change.", messages.ERROR
            )
            return None
        form = PlanChangeForm(
            request.POST if "apply" in request.POST else None, subscription=subscription
        )
        if "apply" in request.POST and form.is_valid():
            try:
                result = subscription_change_plan_and_invoice(
                    subscription=subscription,
                    new_plan=form.cleaned_data["plan"],
                    actor=request.user,
                )
            except PaydeskError as exc:
                self.message_user(request, f"#{subscription.pk}: {exc}", messages.ERROR)
            else:
                self._report(request, subscription, result)
            return None
        return self._intermediate(
            request,
            "invoices/subscription_change.html",
            {
                "title": "Change plan",
                "subscriptions": [subscription],
                "form": form,
                "action": "change_plan_action",
                "button": "Change plan and bill",
                "intro": "The subscription moves to the new plan now. The unused part of the "
                "current plan is credited and the rest of the period on the new plan is billed "
                "at once, each as its own line with its period.",
            },
        )

    @admin.action(description="Cancel now (credits the unused time)", permissions=["prorate"])
    def cancel_now_action(self, request, queryset):
        from invoices.proration import subscription_cancel_now_and_credit

        subscriptions = list(
            queryset.exclude(status=SubscriptionStatus.ENDED)
            .select_related("account", "plan")
            .order_by("pk")
        )
        form = CancelNowForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            for subscription in subscriptions:
                try:
                    result = subscription_cancel_now_and_credit(
                        subscription=subscription,
                        actor=request.user,
                        reason=form.cleaned_data["reason"] or "canceled now by staff",
                    )
                except PaydeskError as exc:
                    self.message_user(request, f"#{subscription.pk}: {exc}", messages.ERROR)
                else:
                    self._report(request, subscription, result)
            return None
        return self._intermediate(
            request,
            "invoices/subscription_change.html",
            {
                "title": "Cancel subscriptions now",
                "subscriptions": subscriptions,
                "form": form,
                "action": "cancel_now_action",
                "button": "Cancel now",
                "intro": "These subscriptions end now. The unused part of the period already "
                "billed is credited with a credit note on the invoice that billed it.",
            },
        )


admin.site.unregister(Subscription)
admin.site.register(Subscription, SubscriptionChangesAdmin)
