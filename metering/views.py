"""Staff screen: an account's usage in a month, per meter, with a daily bar chart."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import render

from common.exceptions import NotFound
from metering.selectors import account_by_ref, month_bounds, usage_preview

CHART_WIDTH = 620
CHART_HEIGHT = 120


def _bars(daily: list, peak: Decimal) -> list[dict]:
    if not daily:
        return []
    step = CHART_WIDTH / len(daily)
    bars = []
    for i, (day, quantity) in enumerate(daily):
        height = float(quantity / peak * CHART_HEIGHT) if peak > 0 else 0.0
        bars.append(
            {
                "x": round(i * step + 1, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "width": round(max(step - 2, 1), 1),
                "height": round(height, 1),
                "day": day,
                "quantity": quantity.normalize(),
            }
        )
    return bars


@login_required
@permission_required("metering.view_usageevent", raise_exception=True)
def account_usage(request, ref: str):
    try:
        account = account_by_ref(ref)
    except NotFound:
        raise Http404("No such account.") from None
    period = request.GET.get("period") or None
    try:
        start, end = month_bounds(period)
    except ValueError:
        start, end = month_bounds(None)
    rows = []
    for usage in usage_preview(account=account, period_start=start, period_end=end):
        rows.append(
            {
                "usage": usage,
                "bars": _bars(usage.daily, usage.daily_max),
                "peak": usage.daily_max.normalize(),
            }
        )
    previous = (start - _one_day()).strftime("%Y-%m")
    return render(
        request,
        "metering/account_usage.html",
        {
            "account": account,
            "start": start,
            "last_day": (end - _one_day()).date(),
            "period": start.strftime("%Y-%m"),
            "previous": previous,
            "next": end.strftime("%Y-%m"),
            "rows": rows,
            "chart_width": CHART_WIDTH,
            "chart_height": CHART_HEIGHT,
        },
    )


def _one_day():
    from datetime import timedelta

    return timedelta(days=1)
