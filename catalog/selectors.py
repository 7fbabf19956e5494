"""Reads of subscriptions for billing and screens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from django.db.models import Prefetch, Q, QuerySet

from catalog.models import Price, PriceTier, Subscription
from catalog.periods import as_of_cutoffs, billing_periods, day_start

_CHUNK = 2000


def _instant(as_of: date | datetime) -> datetime:
    return as_of if isinstance(as_of, datetime) else day_start(as_of)


def subscriptions_for_billing() -> QuerySet[Subscription]:
    """Subscriptions with what rating needs loaded: plan, product, account, prices and tiers."""
    return Subscription.objects.select_related("plan", "plan__product", "account").prefetch_related(
        Prefetch(
            "plan__prices",
            queryset=Price.objects.order_by("pk").prefetch_related(
                Prefetch("tiers", queryset=PriceTier.objects.order_by("pk"))
            ),
        )
    )


def subscriptions_active(*, as_of: date | datetime) -> QuerySet[Subscription]:
    """Subscriptions running at ``as_of`` (a day means its first instant), trials included."""
    instant = _instant(as_of)
    return subscriptions_for_billing().filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=instant), started_at__lte=instant
    )


def subscriptions_due(
    *, as_of: date | datetime, since: datetime | None = None
) -> Iterator[tuple[Subscription, datetime, datetime]]:
    """(subscription, period start, period end) for every period with something to bill.

    A period is yielded once it has started by ``as_of`` (its in-advance fees are due), whether
    or not it has also ended (its usage in arrears is due when ``period_end`` is at or before
    the arrears cutoff, see ``catalog.periods.as_of_cutoffs``). Periods already billed are
    yielded again: invoices keeps the (subscription, period start, kind) key that skips them.
    ``since`` leaves out periods that ended on or before it. Oldest first per subscription.
    """
    advance_cutoff, _ = as_of_cutoffs(as_of)
    candidates = subscriptions_for_billing().filter(billing_anchor__lt=advance_cutoff)
    if since is not None:
        candidates = candidates.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=since))
    for subscription in candidates.order_by("pk").iterator(chunk_size=_CHUNK):
        for start, end in billing_periods(subscription, until=advance_cutoff, since=since):
            yield subscription, start, end
