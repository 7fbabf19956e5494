"""Every write to the catalog and to subscriptions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.choices import AccountStatus
from catalog.choices import (
    PLAN_CHANGEABLE,
    SUBSCRIPTION_TRANSITIONS,
    BillingPeriod,
    SubscriptionStatus,
)
from catalog.exceptions import (
    InvalidPlan,
    InvalidQuantity,
    InvalidSubscription,
    PlanBillingPeriodMismatch,
    PlanCurrencyMismatch,
    PlanInactive,
    PlanUnchanged,
    SubscriptionStateError,
)
from catalog.models import Plan, Price, PriceTier, Product, Subscription
from catalog.periods import period_containing
from catalog.proration import ProrationItem, prorated_items
from catalog.rating import Tier
from catalog.validation import price_validate
from common.money import UnknownCurrency, is_known_currency

__all__ = [
    "ProrationItem",
    "plan_create",
    "plan_save",
    "price_create",
    "price_save",
    "product_create",
    "product_save",
    "subscription_cancel",
    "subscription_change_plan",
    "subscription_create",
    "subscriptions_advance",
]


def _save(obj, *, actor=None, reason: str = "") -> None:
    # simple-history reads these two attributes when it writes the history row.
    if actor is not None:
        obj._history_user = actor
    if reason:
        obj._change_reason = reason[:100]
    obj.save()


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise InvalidSubscription(f"{name} must be a timezone-aware datetime", field=name)
    return value


# ---------------------------------------------------------------------------- catalog


def product_save(*, product: Product, actor=None) -> Product:
    if not product.code or not product.name:
        raise InvalidPlan("A product needs a code and a name.")
    _save(product, actor=actor)
    return product


def product_create(*, code: str, name: str, description: str = "", actor=None) -> Product:
    return product_save(product=Product(code=code, name=name, description=description), actor=actor)


def plan_save(*, plan: Plan, actor=None) -> Plan:
    """Create or update a plan. Currency and billing period are fixed once subscribed to."""
    if not is_known_currency(plan.currency):
        raise UnknownCurrency(
            f"{plan.currency!r} is not a known ISO 4217 currency code (e.g. 'EUR')",
            currency=str(plan.currency),
        )
    if plan.billing_period not in BillingPeriod.values:
        raise InvalidPlan(f"unknown billing period {plan.billing_period!r}")
    if plan.trial_days is None or plan.trial_days < 0:
        raise InvalidPlan("trial days must be 0 or more")
    with transaction.atomic():
        if plan.pk is not None:
            before = Plan.objects.select_for_update().filter(pk=plan.pk).first()
            if before is not None and before.subscriptions.exists():
                for name in ("currency", "billing_period"):
                    if getattr(before, name) != getattr(plan, name):
                        # Billing periods and invoice currencies of existing subscriptions
                        # would change under their feet: offer a new plan instead.
                        raise InvalidPlan(
                            f"The plan has subscriptions: its {name.replace('_', ' ')} "
                            "cannot change. Create a new plan.",
                            field=name,
                        )
        _save(plan, actor=actor)
    return plan


def plan_create(
    *,
    code: str,
    name: str,
    product: Product,
    billing_period: str,
    currency: str,
    trial_days: int = 0,
    active: bool = True,
    actor=None,
) -> Plan:
    plan = Plan(
        code=code,
        name=name,
        product=product,
        billing_period=billing_period,
        currency=currency,
        trial_days=trial_days,
        active=active,
    )
    return plan_save(plan=plan, actor=actor)


def price_save(*, price: Price, tiers: Sequence[Tier], actor=None) -> Price:
    """Validate and save a price with its complete list of tiers (replacing the old ones)."""
    ordered = list(tiers)
    price_validate(
        charge_model=price.charge_model,
        timing=price.timing,
        unit_amount=price.unit_amount,
        package_size=price.package_size,
        minimum_amount=price.minimum_amount,
        tiers=ordered,
    )
    with transaction.atomic():
        _save(price, actor=actor)
        current = [(t.up_to, t.unit_amount, t.flat_amount) for t in price.tiers.all()]
        wanted = [(t.up_to, t.unit_amount, t.flat_amount) for t in ordered]
        if current != wanted:
            for old in price.tiers.all():
                old._history_user = actor
                old.delete()
            for tier in ordered:
                new = PriceTier(
                    price=price,
                    up_to=tier.up_to,
                    unit_amount=tier.unit_amount,
                    flat_amount=tier.flat_amount,
                )
                _save(new, actor=actor)
    return price


def price_create(
    *,
    plan: Plan,
    code: str,
    description: str,
    charge_model: str,
    timing: str,
    unit_amount: Decimal = Decimal(0),
    package_size: Decimal | None = None,
    minimum_amount: Decimal | None = None,
    unit_label: str = "",
    tiers: Sequence[Tier] = (),
    actor=None,
) -> Price:
    price = Price(
        plan=plan,
        code=code,
        description=description,
        charge_model=charge_model,
        timing=timing,
        unit_amount=unit_amount,
        package_size=package_size,
        minimum_amount=minimum_amount,
        unit_label=unit_label,
    )
    return price_save(price=price, tiers=tiers, actor=actor)


# ---------------------------------------------------------------------------- subscriptions


def _transition(subscription: Subscription, to: str) -> None:
    if to not in SUBSCRIPTION_TRANSITIONS[subscription.status]:
        raise SubscriptionStateError(
            f"Subscription #{subscription.pk} is {subscription.get_status_display().lower()}; "
            f"it cannot become {SubscriptionStatus(to).label.lower()}.",
            status=subscription.status,
        )
    subscription.status = to


def _locked(subscription: Subscription) -> Subscription:
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("plan", "account")
        .get(pk=subscription.pk)
    )


def _billing_now(subscription: Subscription, now: datetime) -> bool:
    """True when ``now`` lies in a billed period (after the trial, before the end)."""
    if now < subscription.billing_anchor:
        return False
    return subscription.ended_at is None or now < subscription.ended_at


def subscription_create(
    *,
    account,
    plan: Plan,
    start: datetime,
    trial_days: int | None = None,
    quantity: int = 1,
    now: datetime | None = None,
    actor=None,
) -> Subscription:
    """Subscribe ``account`` to ``plan`` from ``start`` (which may lie in the past or future).

    With a trial, billing (and the billing anchor) starts when the trial ends.
    """
    now = _aware(now or timezone.now(), "now")
    start = _aware(start, "start")
    if not plan.active:
        raise PlanInactive(f"The plan {plan.code} is no longer offered.", plan=plan.code)
    if plan.currency != account.currency:
        raise PlanCurrencyMismatch(
            f"The plan {plan.code} is in {plan.currency} but the account is billed in "
            f"{account.currency}; choose the {account.currency} plan.",
            plan_currency=plan.currency,
            account_currency=account.currency,
        )
    if account.status == AccountStatus.CLOSED:
        raise InvalidSubscription("The account is closed.", field="account")
    trial_days = plan.trial_days if trial_days is None else trial_days
    if isinstance(trial_days, bool) or not isinstance(trial_days, int) or trial_days < 0:
        raise InvalidSubscription(
            "trial days must be a whole number, 0 or more", field="trial_days"
        )
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidQuantity("a subscription has at least 1 seat", field="quantity")
    trial_end = start + timedelta(days=trial_days) if trial_days else None
    in_trial = trial_end is not None and now < trial_end
    subscription = Subscription(
        account=account,
        plan=plan,
        status=SubscriptionStatus.TRIALING if in_trial else SubscriptionStatus.ACTIVE,
        started_at=start,
        billing_anchor=trial_end or start,
        trial_end=trial_end,
        quantity=quantity,
        created_at=now,
    )
    with transaction.atomic():
        _save(subscription, actor=actor, reason="created")
    return subscription


def subscription_cancel(
    *,
    subscription: Subscription,
    at_period_end: bool,
    now: datetime | None = None,
    actor=None,
    reason: str = "",
) -> list[ProrationItem]:
    """Cancel at the end of the current period, or immediately with a credit for unused fees.

    At period end: the subscription stays billable until ``ended_at`` (the current period's end,
    or the trial end during a trial) and nothing is credited. Immediately: it ends now and the
    unused part of this period's in-advance fees is returned as negative ``ProrationItem``s for
    the invoice to credit.
    """
    now = _aware(now or timezone.now(), "now")
    with transaction.atomic():
        locked = _locked(subscription)
        items: list[ProrationItem] = []
        if at_period_end:
            if locked.status == SubscriptionStatus.CANCELED:
                raise SubscriptionStateError(
                    f"Subscription #{locked.pk} is already canceled; "
                    f"it ends {locked.ended_at:%Y-%m-%d}.",
                    status=locked.status,
                )
            _transition(locked, SubscriptionStatus.CANCELED)
            if now < locked.billing_anchor:
                locked.ended_at = locked.billing_anchor
            else:
                locked.ended_at = period_containing(locked, now)[1]
            locked.cancel_at_period_end = True
        else:
            if _billing_now(locked, now):
                period = period_containing(locked, now)
                items = prorated_items(
                    plan=locked.plan,
                    quantity=locked.quantity,
                    period=period,
                    at=now,
                    credit=True,
                    label="Unused time on",
                )
            _transition(locked, SubscriptionStatus.ENDED)
            end = max(now, locked.started_at)
            locked.ended_at = end if locked.ended_at is None else min(locked.ended_at, end)
            locked.cancel_at_period_end = False
        locked.canceled_at = now
        locked.cancel_reason = reason.strip()
        how = "at period end" if at_period_end else "immediately"
        _save(locked, actor=actor, reason=f"canceled {how}")
    subscription.refresh_from_db()
    return items


def subscription_change_plan(
    *,
    subscription: Subscription,
    new_plan: Plan,
    now: datetime | None = None,
    actor=None,
) -> list[ProrationItem]:
    """Move to ``new_plan`` at ``now``, keeping the billing anchor.

    Returns the proration of in-advance fees for the rest of the current period: a credit for the
    old plan's unused part, then a charge for the new plan's part (none during a trial). Refused,
    with nothing written, for a plan in another currency or with another billing period.
    """
    now = _aware(now or timezone.now(), "now")
    with transaction.atomic():
        locked = _locked(subscription)
        old_plan = locked.plan
        if locked.status not in PLAN_CHANGEABLE:
            raise SubscriptionStateError(
                f"Subscription #{locked.pk} is {locked.get_status_display().lower()}; "
                "its plan cannot change.",
                status=locked.status,
            )
        if new_plan.pk == old_plan.pk:
            raise PlanUnchanged(f"The subscription is already on {old_plan.code}.")
        if new_plan.currency != old_plan.currency or new_plan.currency != locked.account.currency:
            raise PlanCurrencyMismatch(
                f"The plan {new_plan.code} is in {new_plan.currency}; this subscription is billed "
                f"in {old_plan.currency}. Choose a {old_plan.currency} plan.",
                plan_currency=new_plan.currency,
                subscription_currency=old_plan.currency,
            )
        if not new_plan.active:
            raise PlanInactive(f"The plan {new_plan.code} is no longer offered.")
        if new_plan.billing_period != old_plan.billing_period:
            raise PlanBillingPeriodMismatch(
                f"{old_plan.code} is billed {old_plan.get_billing_period_display().lower()} and "
                f"{new_plan.code} {new_plan.get_billing_period_display().lower()}.",
            )
        items: list[ProrationItem] = []
        if _billing_now(locked, now):
            period = period_containing(locked, now)
            common = {"quantity": locked.quantity, "period": period, "at": now}
            items = prorated_items(plan=old_plan, credit=True, label="Unused time on", **common)
            items += prorated_items(
                plan=new_plan, credit=False, label="Remaining time on", **common
            )
        locked.plan = new_plan
        _save(locked, actor=actor, reason=f"plan changed from {old_plan.code} to {new_plan.code}")
    subscription.refresh_from_db()
    return items


def subscriptions_advance(*, now: datetime | None = None) -> dict[str, int]:
    """Move statuses along with time: trials that ended become active, scheduled ends end.

    Billing does not depend on this (periods come from dates); screens and dunning read statuses.
    """
    now = _aware(now or timezone.now(), "now")
    moved = {"activated": 0, "ended": 0}
    due = Subscription.objects.filter(
        status=SubscriptionStatus.TRIALING, trial_end__lte=now
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().get(pk=pk)
            if sub.status == SubscriptionStatus.TRIALING:
                _transition(sub, SubscriptionStatus.ACTIVE)
                _save(sub, reason="trial ended")
                moved["activated"] += 1
    due = Subscription.objects.filter(
        status=SubscriptionStatus.CANCELED, ended_at__lte=now
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().get(pk=pk)
            if sub.status == SubscriptionStatus.CANCELED:
                _transition(sub, SubscriptionStatus.ENDED)
                _save(sub, reason="reached its scheduled end")
                moved["ended"] += 1
    return moved
