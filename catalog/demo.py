"""Demo catalog: clusters, storage and support in six currencies, and a subscription per account.

Every plan exists once per currency (``TEAM-EUR``, ``TEAM-JPY``, ...). Idempotent by codes;
accounts that already have a subscription are left alone.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.choices import AccountStatus
from accounts.models import Account
from catalog.choices import BillingPeriod, ChargeModel, Timing
from catalog.models import Plan, Product
from catalog.rating import Tier
from catalog.services import (
    plan_create,
    price_create,
    product_create,
    subscription_cancel,
    subscription_create,
)
from common.money import exponent

D = Decimal
# Rough list-price factors against EUR, so each currency's plan has sensible amounts.
CURRENCIES = {
    "EUR": D("1"),
    "USD": D("1.1"),
    "GBP": D("0.85"),
    "CHF": D("0.95"),
    "JPY": D("160"),
    "KWD": D("0.33"),
}

PRODUCTS = [
    ("clusters", "Managed clusters", "Compute clusters run and operated for you."),
    ("storage", "Object storage", "S3-compatible storage and egress."),
    ("support", "Premium support", "Named engineers, one-hour response."),
]

FLAT, PER_UNIT, GRADUATED, VOLUME, PACKAGE = (
    ChargeModel.FLAT,
    ChargeModel.PER_UNIT,
    ChargeModel.GRADUATED,
    ChargeModel.VOLUME,
    ChargeModel.PACKAGE,
)
ADVANCE, ARREARS = Timing.IN_ADVANCE, Timing.IN_ARREARS

# code prefix, name, product, period, trial days,
# prices: (code, description, model, timing, unit EUR, unit label, extra)
PLANS = [
    ("TEAM", "Team", "clusters", BillingPeriod.MONTHLY, 14, [
        ("base", "Team plan, monthly fee", FLAT, ADVANCE, D("49"), "month", {}),
        ("cluster_hours", "Cluster hours", GRADUATED, ARREARS, D("0"), "hour", {"tiers": [
            (D("100"), D("0.12"), D("0")), (D("1000"), D("0.10"), D("0")),
            (None, D("0.08"), D("0"))]}),
        ("storage_gb_hours", "Storage", PER_UNIT, ARREARS, D("0.0002"), "GB-hour", {}),
        ("egress_gb", "Egress (per started 100 GB)", PACKAGE, ARREARS, D("5"), "GB",
         {"package_size": D("100")}),
    ]),
    ("BUSINESS", "Business", "clusters", BillingPeriod.MONTHLY, 0, [
        ("base", "Business plan, monthly fee", FLAT, ADVANCE, D("299"), "month", {}),
        ("cluster_hours", "Cluster hours", VOLUME, ARREARS, D("0"), "hour", {"tiers": [
            (D("1000"), D("0.11"), D("0")), (D("10000"), D("0.09"), D("0")),
            (None, D("0.07"), D("50"))]}),
        ("storage_gb_hours", "Storage", PER_UNIT, ARREARS, D("0.00018"), "GB-hour", {}),
        ("egress_gb", "Egress (per started 100 GB)", PACKAGE, ARREARS, D("4"), "GB",
         {"package_size": D("100")}),
    ]),
    ("ENTERPRISE-Y", "Enterprise (yearly)", "clusters", BillingPeriod.YEARLY, 0, [
        ("base", "Enterprise plan, yearly fee", FLAT, ADVANCE, D("12000"), "year", {}),
        ("cluster_hours", "Cluster hours (yearly minimum commitment)", PER_UNIT, ARREARS,
         D("0.06"), "hour", {"minimum_amount": D("6000")}),
        ("storage_gb_hours", "Storage", PER_UNIT, ARREARS, D("0.00015"), "GB-hour", {}),
    ]),
    ("STORAGE", "Object storage", "storage", BillingPeriod.MONTHLY, 0, [
        ("storage_gb_hours", "Storage (first 720 GB-hours free)", GRADUATED, ARREARS, D("0"),
         "GB-hour", {"tiers": [(D("720"), D("0"), D("0")), (None, D("0.0002"), D("0"))]}),
        ("egress_gb", "Egress (per started 100 GB)", PACKAGE, ARREARS, D("5"), "GB",
         {"package_size": D("100")}),
    ]),
    ("SUPPORT", "Premium support", "support", BillingPeriod.MONTHLY, 0, [
        ("seats", "Premium support, per seat", FLAT, ADVANCE, D("29"), "seat", {}),
    ]),
]  # fmt: skip

CYCLE = ["TEAM", "BUSINESS", "ENTERPRISE-Y"]
START = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
MID_MONTH_START = dt.datetime(2025, 12, 15, tzinfo=dt.UTC)
MONTH_END_START = dt.datetime(2026, 1, 31, tzinfo=dt.UTC)
TRIAL_START = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
CANCEL_AT = dt.datetime(2026, 11, 10, 9, 30, tzinfo=dt.UTC)


def plan_code(prefix: str, currency: str) -> str:
    return f"{prefix}-{currency}"


def _fee(amount_eur: Decimal, currency: str) -> Decimal:
    return (amount_eur * CURRENCIES[currency]).quantize(D(1).scaleb(-exponent(currency)))


def _unit(amount_eur: Decimal, currency: str) -> Decimal:
    return (amount_eur * CURRENCIES[currency]).quantize(D("0.000001")).normalize()


def _seed_catalog() -> int:
    products = {}
    for code, name, description in PRODUCTS:
        product = Product.objects.filter(code=code).first()
        products[code] = product or product_create(code=code, name=name, description=description)
    created = 0
    existing = set(Plan.objects.values_list("code", flat=True))
    for prefix, name, product, period, trial_days, prices in PLANS:
        for currency in CURRENCIES:
            code = plan_code(prefix, currency)
            if code in existing:
                continue
            plan = plan_create(
                code=code,
                name=name,
                product=products[product],
                billing_period=period,
                currency=currency,
                trial_days=trial_days,
            )
            for price_code, text, model, timing, unit, label, extra in prices:
                money = _fee if model == FLAT else _unit
                minimum = extra.get("minimum_amount")
                price_create(
                    plan=plan,
                    code=price_code,
                    description=text,
                    charge_model=model,
                    timing=timing,
                    unit_amount=money(unit, currency),
                    unit_label=label,
                    package_size=extra.get("package_size"),
                    minimum_amount=None if minimum is None else _fee(minimum, currency),
                    tiers=[
                        Tier(up_to, _unit(tier_unit, currency), _fee(flat, currency))
                        for up_to, tier_unit, flat in extra.get("tiers", [])
                    ],
                )
            created += 1
    return created


def _seed_subscriptions(now: dt.datetime) -> int:
    plans = {p.code: p for p in Plan.objects.filter(currency__in=list(CURRENCIES))}
    accounts = list(
        Account.objects.filter(currency__in=list(CURRENCIES))
        .exclude(status=AccountStatus.CLOSED)
        .filter(subscriptions__isnull=True)
        .order_by("pk")
    )
    # The customer in trial pays in euros, so the JPY and KWD customers have invoices to show.
    trial_account = next((a for a in reversed(accounts) if a.currency == "EUR"), None)
    created = 0
    for index, account in enumerate(accounts):
        prefix = CYCLE[index % len(CYCLE)]
        start = START
        if index % 4 == 3:
            start = MID_MONTH_START
        if index == 5:
            start = MONTH_END_START  # periods end Feb 28, Mar 31, Apr 30, ...
        trial_days = 0
        if account is trial_account and index > 0:
            prefix, start, trial_days = "TEAM", TRIAL_START, 14  # a new customer, in trial
        subscription = subscription_create(
            account=account,
            plan=plans[plan_code(prefix, account.currency)],
            start=start,
            trial_days=trial_days,
            now=now,
        )
        created += 1
        if index % 4 == 1:
            subscription_create(
                account=account,
                plan=plans[plan_code("SUPPORT", account.currency)],
                start=START,
                trial_days=0,
                quantity=3,
                now=now,
            )
            created += 1
        if index % 4 == 2:
            subscription_create(
                account=account,
                plan=plans[plan_code("STORAGE", account.currency)],
                start=MID_MONTH_START,
                trial_days=0,
                now=now,
            )
            created += 1
        if index == 4:
            subscription_cancel(
                subscription=subscription,
                at_period_end=True,
                now=CANCEL_AT,
                reason="Moving workloads on-premises (demo)",
            )
    return created


def seed(*, out) -> None:
    with transaction.atomic():
        plans = _seed_catalog()
        subscriptions = _seed_subscriptions(timezone.now())
    out.write(f"catalog: {plans} plans and {subscriptions} subscriptions created")
