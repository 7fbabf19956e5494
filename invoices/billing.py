"""The billing run: one invoice per subscription and period boundary.

The rule. Periods are half-open ``[start, end)`` from the billing anchor (``catalog.periods``).
At each period start ``b`` the subscription gets ONE invoice holding

* the in-advance fees of the period starting at ``b``, and
* the in-arrears charges (usage from metering, flat fees in arrears) of the period ending at
  ``b``, with metering's adjustment lines for earlier periods that changed since billed.

The first period has no arrears part and is due on its start day; later boundaries are due once
they have passed when the run's day begins (``as_of_cutoffs``), so usage is complete. When a
subscription ends, a closing invoice at ``ended_at`` bills the last period's arrears.

The invoice's ``billing_key`` is ``"<subscription id>:<boundary date>"`` and unique: a rerun, a
crash-restart or a concurrent run skips what exists, and every boundary is its own transaction,
so a crash leaves a consistent prefix. Errors are recorded per boundary; the run goes on.
PDFs are not rendered here (``pdf_mode="deferred"``): the ``invoices.render_pending_pdfs`` task
renders each once after the run, because rendering costs far more than billing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.exceptions import PaydeskError
from invoices.choices import InvoiceKind
from invoices.models import BillingRun, Invoice, InvoiceLine
from invoices.numbering import INVOICE_SERIES, series_get
from invoices.tax import RateBook, category_for

logger = logging.getLogger(__name__)

CHUNK = 200


@dataclass(frozen=True)
class Boundary:
    subscription: object
    at: dt.datetime
    advance: tuple[dt.datetime, dt.datetime] | None
    arrears: tuple[dt.datetime, dt.datetime] | None

    @property
    def key(self) -> str:
        return f"{self.subscription.pk}:{self.at:%Y-%m-%d}"


@dataclass
class BillingRunResult:
    run_id: int
    as_of: dt.date
    created: int = 0
    skipped: int = 0
    empty: int = 0
    errors: list[dict] = field(default_factory=list)
    invoice_ids: list[int] = field(default_factory=list)


def boundaries_of(subscription, periods: list, *, as_of: dt.date) -> list[Boundary]:
    from catalog.periods import as_of_cutoffs

    advance_cutoff, arrears_cutoff = as_of_cutoffs(as_of)
    result = []
    for i, (start, end) in enumerate(periods):
        previous = periods[i - 1] if i else None
        if previous is not None and previous[1] != start:
            previous = None  # a gap (should not happen): bill nothing in arrears across it
        first = start == subscription.billing_anchor
        if (first and start < advance_cutoff) or (not first and start <= arrears_cutoff):
            result.append(Boundary(subscription, start, (start, end), previous))
    if periods:
        start, end = periods[-1]
        ended = subscription.ended_at
        if ended is not None and end == ended and end <= arrears_cutoff:
            result.append(Boundary(subscription, end, None, (start, end)))
    return result


def _due(as_of: dt.date) -> Iterator[list[Boundary]]:
    """Boundaries due by ``as_of``, in chunks of about ``CHUNK`` subscriptions."""
    from catalog.selectors import subscriptions_due

    chunk: list[Boundary] = []
    seen = 0
    for _pk, rows in groupby(subscriptions_due(as_of=as_of), key=lambda r: r[0].pk):
        rows = list(rows)
        sub = rows[0][0]
        chunk.extend(boundaries_of(sub, [(s, e) for _, s, e in rows], as_of=as_of))
        seen += 1
        if seen % CHUNK == 0 and chunk:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _fee_lines(subscription, *, timing: str, period, LineInput) -> list:
    from catalog.choices import ChargeModel
    from catalog.rating import rate_minor

    plan = subscription.plan
    seats = Decimal(subscription.quantity)
    lines = []
    for price in plan.prices.all():
        if price.timing != timing or price.charge_model != ChargeModel.FLAT:
            continue
        lines.append(
            LineInput(
                description=price.description,
                quantity=seats,
                unit_amount=price.unit_amount,
                net_minor=rate_minor(price=price, quantity=seats),
                period_start=period[0],
                period_end=period[1],
                product_code=plan.product.code,
                price_id=price.pk,
            )
        )
    return lines


def _usage_inputs(usage, *, product_code: str, LineInput) -> list:
    lines = []
    for u in usage:
        lines.append(
            LineInput(
                description=u.description,
                quantity=u.quantity,
                unit_amount=u.unit_amount,
                net_minor=u.amount_minor,
                period_start=None if u.is_adjustment else u.period_start,
                period_end=None if u.is_adjustment else u.period_end,
                product_code=product_code,
                price_id=u.price_id,
                is_adjustment=u.is_adjustment,
                adjustment_period_start=u.period_start if u.is_adjustment else None,
                adjustment_period_end=u.period_end if u.is_adjustment else None,
                meter_code=u.meter_code,
                usage_aggregation=u.aggregation,
            )
        )
    return lines


class _NothingToBill(Exception):
    pass


def bill_boundary(boundary: Boundary, *, as_of: dt.date, now: dt.datetime, rates, series):
    """Create and finalize the boundary's invoice in one transaction; None if nothing to bill."""
    from catalog.choices import Timing
    from invoices import services
    from metering.services import usage_lines_for, usage_mark_billed

    sub = boundary.subscription
    LineInput = services.LineInput
    with transaction.atomic():
        invoice = Invoice(
            account_id=sub.account_id,
            subscription=sub,
            series=series,
            kind=InvoiceKind.SUBSCRIPTION,
            billing_key=boundary.key,
            currency=sub.plan.currency,
            issue_date=as_of,
            created_at=now,
        )
        # The draft lives only inside this transaction; its history starts at finalization.
        invoice.skip_history_when_saving = True
        invoice.save()
        del invoice.skip_history_when_saving
        specs = []
        if boundary.advance:
            specs += _fee_lines(
                sub, timing=Timing.IN_ADVANCE, period=boundary.advance, LineInput=LineInput
            )
        usage = []
        if boundary.arrears:
            specs += _fee_lines(
                sub, timing=Timing.IN_ARREARS, period=boundary.arrears, LineInput=LineInput
            )
            usage = usage_lines_for(
                subscription=sub, period_start=boundary.arrears[0], period_end=boundary.arrears[1]
            )
            specs += _usage_inputs(usage, product_code=sub.plan.product.code, LineInput=LineInput)
        if not specs:
            raise _NothingToBill
        built = [services._build_line(invoice, spec, i) for i, spec in enumerate(specs, start=1)]
        # Tax known now, so finalization finds nothing to update on the lines.
        services.apply_tax(built, category=category_for(sub.account.tax_status), rates=rates)
        InvoiceLine.objects.bulk_create(built)
        if usage:
            usage_mark_billed(subscription=sub, lines=usage, invoice_id=invoice.pk)
        return services.invoice_finalize(
            invoice=invoice, now=now, issue_date=as_of, pdf_mode=services.PDF_DEFERRED, rates=rates
        )


def _existing_keys(keys: Iterable[str]) -> set[str]:
    return set(
        Invoice.objects.filter(billing_key__in=list(keys)).values_list("billing_key", flat=True)
    )


def billing_run(*, as_of: dt.date, now: dt.datetime | None = None) -> BillingRunResult:
    """Invoice every due subscription period up to ``as_of``. Safe to run again at any time."""
    now = now or timezone.now()
    run = BillingRun.objects.create(as_of=as_of, started_at=now)
    result = BillingRunResult(run_id=run.pk, as_of=as_of)
    rates = RateBook(as_of)
    series = series_get(INVOICE_SERIES)
    for chunk in _due(as_of):
        existing = _existing_keys(b.key for b in chunk)
        for boundary in chunk:
            if boundary.key in existing:
                result.skipped += 1
                continue
            try:
                invoice = bill_boundary(boundary, as_of=as_of, now=now, rates=rates, series=series)
            except _NothingToBill:
                result.empty += 1
                continue
            except IntegrityError as exc:
                if "billing_key" not in str(exc):
                    _record(result, boundary, "integrity_error", str(exc))
                    continue
                result.skipped += 1  # a concurrent run billed it first
                continue
            except PaydeskError as exc:
                _record(result, boundary, exc.code, exc.detail)
                continue
            except Exception as exc:  # noqa: BLE001 - one bad subscription must not stop the run
                logger.exception("billing failed", extra={"key": boundary.key})
                _record(result, boundary, "unexpected_error", f"{type(exc).__name__}: {exc}")
                continue
            result.created += 1
            result.invoice_ids.append(invoice.pk)
    BillingRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        created_count=result.created,
        skipped_count=result.skipped + result.empty,
        error_count=len(result.errors),
        errors=result.errors[:1000],
    )
    return result


def _record(result: BillingRunResult, boundary: Boundary, code: str, detail: str) -> None:
    result.errors.append(
        {
            "subscription": boundary.subscription.pk,
            "account": boundary.subscription.account_id,
            "billing_key": boundary.key,
            "code": code,
            "detail": detail[:500],
        }
    )
