"""Accounts in the admin. Saving goes through the services, so the rules are the API's."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from simple_history.admin import SimpleHistoryAdmin

from accounts.models import Account, Contact, PspCustomer
from accounts.services import (
    MODEL_FIELDS,
    account_clean,
    account_close,
    account_create,
    account_restore,
    account_suspend,
    account_update,
)
from common.admin import FastAdminMixin
from common.exceptions import PaydeskError


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = [
            "legal_name",
            "billing_email",
            "street",
            "postcode",
            "city",
            "region",
            "country",
            "language",
            "currency",
            "vat_id",
            "tax_status",
            "external_id",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left empty, the tax status follows from country and VAT id.
        self.fields["tax_status"].required = False
        self.fields["vat_id"].max_length = 40
        self.fields["vat_id"].widget.attrs["maxlength"] = 40

    def _raw_fields(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k in MODEL_FIELDS}
        if self.instance.pk:
            data = {k: v for k, v in data.items() if k in self.changed_data}
        return data

    def clean(self):
        super().clean()
        if self.errors:
            return self.cleaned_data
        try:
            self.service_fields = account_clean(
                fields=self._raw_fields(), instance=self.instance if self.instance.pk else None
            )
        except PaydeskError as exc:
            errors = exc.extra.get("errors") or [{"field": None, "message": exc.detail}]
            for error in errors:
                field = error.get("field")
                self.add_error(field if field in self.fields else None, error["message"])
        return self.cleaned_data

    def _post_clean(self):
        # The model's own full_clean would re-check the raw input (e.g. the VAT id before
        # normalisation); the services have the last word.
        pass


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "email", "phone", "role")


class PspCustomerInline(admin.TabularInline):
    model = PspCustomer
    extra = 0
    fields = ("provider", "psp_customer_id", "created_at")
    readonly_fields = ("created_at",)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Account)
class AccountAdmin(FastAdminMixin, SimpleHistoryAdmin):
    form = AccountForm
    list_display = (
        "legal_name",
        "external_id",
        "country",
        "currency",
        "tax_status",
        "status",
        "billing_email",
        "created_at",
    )
    list_filter = ("status", "country", "tax_status", "language")
    search_fields = (
        "legal_name",
        "=billing_email",
        "=vat_id",
        "=external_id",
        "=psp_customers__psp_customer_id",
    )
    # By name (index ``account_legal_name_id``): paged by number, not by keyset.
    list_select_related = ()
    date_hierarchy = "created_at"
    readonly_fields = ("status", "status_reason", "status_changed_at", "created_at", "updated_at")
    inlines = [ContactInline, PspCustomerInline]
    actions = ["suspend", "restore", "close"]

    def has_delete_permission(self, request, obj=None):
        # Accounts are closed, not deleted: invoices and the ledger refer to them.
        return False

    def save_model(self, request, obj, form, change):
        fields = form._raw_fields()
        if change:
            saved = account_update(
                account=Account.objects.get(pk=obj.pk), actor=request.user, **fields
            )
        else:
            saved = account_create(actor=request.user, **fields)
        # The admin keeps using ``obj`` for the inlines and the redirect.
        for field in Account._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    # -- status changes, each with a reason ------------------------------------------------

    def _status_action(self, request, queryset, service, verb: str):
        if not request.user.has_perm("accounts.change_account"):
            raise PermissionDenied
        if "apply" in request.POST:
            form = ReasonForm(request.POST)
            if form.is_valid():
                done, failed = 0, []
                for account in queryset:
                    try:
                        service(
                            account=account, reason=form.cleaned_data["reason"], actor=request.user
                        )
                        done += 1
                    except PaydeskError as exc:
                        failed.append(f"{account}: {exc.detail}")
                if done:
                    self.message_user(request, f"{verb}: {done} account(s).", messages.SUCCESS)
                for message in failed:
                    self.message_user(request, message, messages.ERROR)
                return None
        else:
            form = ReasonForm()
        return render(
            request,
            "accounts/admin/status_reason.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{verb}: say why",
                "accounts": queryset,
                "form": form,
                "action": request.POST.get("action"),
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Suspend selected accounts", permissions=["change"])
    def suspend(self, request, queryset):
        return self._status_action(request, queryset, account_suspend, "Suspend")

    @admin.action(description="Restore selected accounts to active", permissions=["change"])
    def restore(self, request, queryset):
        return self._status_action(request, queryset, account_restore, "Restore")

    @admin.action(description="Close selected accounts", permissions=["change"])
    def close(self, request, queryset):
        return self._status_action(request, queryset, account_close, "Close")
