"""Products, plans and their prices (charge components), and subscriptions to plans.

Prices per currency: a plan has exactly one currency, shared by all its prices. Offering a product
in several currencies means one plan per currency (``TEAM-EUR``, ``TEAM-USD``) under the same
product; a subscription may only move between plans of its own currency.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from catalog.choices import BillingPeriod, ChargeModel, SubscriptionStatus, Timing

AMOUNT = {"max_digits": 30, "decimal_places": 12}


class Product(models.Model):
    """What we sell, e.g. managed clusters; revenue is booked per product code."""

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Plan(models.Model):
    code = models.CharField(max_length=50, unique=True, help_text="e.g. TEAM-EUR")
    name = models.CharField(max_length=200)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans")
    billing_period = models.CharField(max_length=10, choices=BillingPeriod.choices)
    currency = models.CharField(max_length=3, help_text="ISO 4217; every price of the plan")
    active = models.BooleanField(default=True, help_text="offered for new subscriptions")
    trial_days = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["product__code", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="plan_currency_iso"
            ),
        ]
        indexes = [models.Index(fields=["currency", "active"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class Price(models.Model):
    """One charge component of a plan, shown as one invoice line ("Cluster hours")."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="prices")
    code = models.SlugField(max_length=50, help_text="unique within the plan, e.g. cluster_hours")
    description = models.CharField(max_length=200, help_text="the invoice line text")
    charge_model = models.CharField(max_length=10, choices=ChargeModel.choices)
    timing = models.CharField(max_length=10, choices=Timing.choices)
    unit_amount = models.DecimalField(
        **AMOUNT,
        default=0,
        help_text="FLAT: the fee (per seat); PER_UNIT: per unit; PACKAGE: per block; "
        "tiered models: unused (see tiers)",
    )
    package_size = models.DecimalField(
        **AMOUNT, null=True, blank=True, help_text="PACKAGE only: units per block"
    )
    minimum_amount = models.DecimalField(
        **AMOUNT, null=True, blank=True, help_text="the least this component costs per period"
    )
    unit_label = models.CharField(max_length=40, blank=True, help_text="e.g. hour, GB-hour")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["plan_id", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "code"], name="uniq_price_code_per_plan"),
            models.CheckConstraint(condition=Q(unit_amount__gte=0), name="price_unit_non_negative"),
            models.CheckConstraint(
                condition=Q(minimum_amount__isnull=True) | Q(minimum_amount__gte=0),
                name="price_minimum_non_negative",
            ),
            models.CheckConstraint(
                condition=(
                    Q(charge_model=ChargeModel.PACKAGE, package_size__gt=0)
                    | (~Q(charge_model=ChargeModel.PACKAGE) & Q(package_size__isnull=True))
                ),
                name="price_package_size_for_package_only",
            ),
            models.CheckConstraint(
                condition=Q(charge_model=ChargeModel.FLAT) | Q(timing=Timing.IN_ARREARS),
                name="price_usage_in_arrears",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code}/{self.code}"


class PriceTier(models.Model):
    """A tier of a GRADUATED or VOLUME price; ``up_to`` is inclusive, None is the open last tier."""

    price = models.ForeignKey(Price, on_delete=models.CASCADE, related_name="tiers")
    up_to = models.DecimalField(**AMOUNT, null=True, blank=True)
    unit_amount = models.DecimalField(**AMOUNT, default=0)
    flat_amount = models.DecimalField(**AMOUNT, default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = [F("up_to").asc(nulls_last=True)]
        constraints = [
            models.UniqueConstraint(
                fields=["price", "up_to"], nulls_distinct=False, name="uniq_tier_bound_per_price"
            ),
            models.CheckConstraint(
                condition=Q(up_to__isnull=True) | Q(up_to__gt=0), name="tier_up_to_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_amount__gte=0) & Q(flat_amount__gte=0),
                name="tier_amounts_non_negative",
            ),
        ]

    def __str__(self) -> str:
        bound = "∞" if self.up_to is None else self.up_to.normalize()
        return f"up to {bound}: {self.unit_amount.normalize()}"


class Subscription(models.Model):
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="subscriptions"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=SubscriptionStatus.choices, db_index=True)
    started_at = models.DateTimeField()
    billing_anchor = models.DateTimeField(
        help_text="periods repeat from here (the first billed instant: start, or trial end)"
    )
    trial_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    ended_at = models.DateTimeField(
        null=True, blank=True, help_text="end of service (scheduled when canceled at period end)"
    )
    quantity = models.PositiveIntegerField(default=1, help_text="seats; multiplies flat fees")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="subscription_seats_min_1"),
            models.CheckConstraint(
                condition=Q(billing_anchor__gte=F("started_at")),
                name="subscription_anchor_after_start",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="subscription_end_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(status=SubscriptionStatus.ENDED) | Q(ended_at__isnull=False),
                name="subscription_ended_has_end",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "status"]),
            models.Index(fields=["plan", "status"]),
            models.Index(fields=["billing_anchor"]),
            models.Index(fields=["ended_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.plan.code}"
