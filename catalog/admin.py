from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from catalog.choices import SubscriptionStatus
from catalog.forms import PlanForm, PriceForm, PriceTierFormSet, tiers_from_forms
from catalog.models import Plan, Price, PriceTier, Product, Subscription
from catalog.services import (
    plan_save,
    price_save,
    product_save,
    subscription_cancel,
    subscription_create,
)
from common.exceptions import PaydeskError


@admin.register(Product)
class ProductAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "active")
    list_filter = ("active",)
    search_fields = ("code", "name")

    def save_model(self, request, obj, form, change):
        product_save(product=obj, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False


class PriceInline(admin.TabularInline):
    """Read-only overview; a price and its tiers are edited on the price's own page."""

    model = Price
    extra = 0
    can_delete = False
    fields = ("edit", "code", "description", "charge_model", "timing", "unit_amount")
    readonly_fields = fields
    show_change_link = False

    @admin.display(description="")
    def edit(self, obj):
        if obj.pk is None:
            return ""
        return format_html(
            '<a href="{}">edit</a>', reverse("admin:catalog_price_change", args=[obj.pk])
        )

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Plan)
class PlanAdmin(SimpleHistoryAdmin):
    form = PlanForm
    list_display = ("code", "name", "product", "currency", "billing_period", "trial_days", "active")
    list_filter = ("active", "currency", "billing_period", "product")
    search_fields = ("code", "name")
    list_select_related = ("product",)
    inlines = [PriceInline]

    def save_model(self, request, obj, form, change):
        plan_save(plan=obj, actor=request.user)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.subscriptions.exists():
            return ("currency", "billing_period")
        return ()

    def has_delete_permission(self, request, obj=None):
        return False


class PriceTierInline(admin.TabularInline):
    model = PriceTier
    formset = PriceTierFormSet
    extra = 1
    fields = ("up_to", "unit_amount", "flat_amount")


@admin.register(Price)
class PriceAdmin(SimpleHistoryAdmin):
    form = PriceForm
    list_display = ("plan", "code", "description", "charge_model", "timing", "minimum_amount")
    list_filter = ("charge_model", "timing", "plan__currency")
    search_fields = ("code", "description", "plan__code")
    list_select_related = ("plan",)
    autocomplete_fields = ("plan",)
    inlines = [PriceTierInline]

    def save_model(self, request, obj, form, change):
        # Saved together with its tiers in save_related, through the service.
        pass

    def save_related(self, request, form, formsets, change):
        tier_formsets = [fs for fs in formsets if fs.model is PriceTier]
        tiers = tiers_from_forms(tier_formsets[0]) if tier_formsets else []
        price_save(price=form.instance, tiers=tiers, actor=request.user)
        for formset in formsets:
            # Read by the admin's change message; the service, not the formset, saved the tiers.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def has_delete_permission(self, request, obj=None):
        return False


class SubscriptionAddForm(forms.ModelForm):
    trial_days = forms.IntegerField(
        min_value=0, required=False, help_text="empty: the plan's trial days"
    )

    class Meta:
        model = Subscription
        fields = ("account", "plan", "started_at", "quantity")

    def clean(self):
        data = super().clean()
        account, plan = data.get("account"), data.get("plan")
        if account and plan and account.currency != plan.currency:
            self.add_error(
                "plan",
                f"The plan is in {plan.currency}; the account is billed in {account.currency}.",
            )
        if plan and not plan.active:
            self.add_error("plan", "This plan is no longer offered.")
        return data


@admin.register(Subscription)
class SubscriptionAdmin(SimpleHistoryAdmin):
    list_display = (
        "id",
        "account",
        "plan",
        "status",
        "quantity",
        "started_at",
        "billing_anchor",
        "ended_at",
    )
    list_filter = ("status", "plan", "plan__currency", "cancel_at_period_end")
    search_fields = ("account__legal_name", "account__external_id", "plan__code", "=id")
    list_select_related = ("account", "plan")
    show_full_result_count = False
    date_hierarchy = "started_at"
    autocomplete_fields = ("account", "plan")
    actions = ["cancel_at_period_end_action"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = SubscriptionAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("account", "plan", "started_at", "trial_days", "quantity")
        return [f.name for f in Subscription._meta.fields]

    def get_readonly_fields(self, request, obj=None):
        # Plan changes and immediate cancellations produce proration lines that belong on an
        # invoice, so they are done through the billing workflow, not by editing here.
        if obj is None:
            return ()
        return [f.name for f in Subscription._meta.fields]

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = subscription_create(
            account=form.cleaned_data["account"],
            plan=form.cleaned_data["plan"],
            start=form.cleaned_data["started_at"],
            trial_days=form.cleaned_data.get("trial_days"),
            quantity=form.cleaned_data.get("quantity") or 1,
            actor=request.user,
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    @admin.action(description="Cancel at the end of the current period")
    def cancel_at_period_end_action(self, request, queryset):
        done = 0
        for subscription in queryset.exclude(
            status__in=[SubscriptionStatus.CANCELED, SubscriptionStatus.ENDED]
        ):
            try:
                subscription_cancel(
                    subscription=subscription,
                    at_period_end=True,
                    actor=request.user,
                    reason="canceled by staff in the admin",
                )
            except PaydeskError as exc:
                self.message_user(request, f"#{subscription.pk}: {exc}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"{done} subscription(s) will end at the end of their period.")

    def has_delete_permission(self, request, obj=None):
        return False
