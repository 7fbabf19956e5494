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
crash-restart or a concurrent run skips what exists. Subscriptions are taken ``CHUNK`` at a
time; ``bill_boundary`` computes each boundary's invoice in memory from usage read in bulk, and
``invoices.billing_batch.invoices_write`` writes a wave of them (at most one boundary per
subscription) in one transaction, so a crash loses at most that wave, which the rerun bills.
Errors are recorded per boundary and the run goes on: a boundary that cannot be computed is
left out of its wave, and a wave that cannot be written is written again one invoice at a time.
PDFs are not rendered here (``pdf_mode="deferred"``): the ``invoices.render_pending_pdfs`` task
renders each once after the run, because rendering costs far more than billing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from django.db import IntegrityError
from django.utils import timezone

from common.exceptions import PaydeskError
from invoices.choices import InvoiceKind
from invoices.models import BillingRun, Invoice
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


def bill_boundary(
    boundary: Boundary, *, as_of: dt.date, now: dt.datetime, rates, series, context=None
):
    """The boundary's invoice, computed in memory and not yet written (``PreparedInvoice``).

    Raises ``_NothingToBill`` when there is nothing to bill, and a domain error when the
    boundary cannot be billed; ``billing_batch.invoices_write`` writes what this returns.
    """
    from catalog.choices import Timing
    from invoices import services
    from invoices.billing_batch import PreparedInvoice, WaveContext

    context = context or WaveContext()
    sub = boundary.subscription
    LineInput = services.LineInput
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
        usage = context.usage_for(boundary)
        specs += _usage_inputs(usage, product_code=sub.plan.product.code, LineInput=LineInput)
    if not specs:
        raise _NothingToBill
    lines = [services._build_line(invoice, spec, i) for i, spec in enumerate(specs, start=1)]
    account = sub.account
    services.apply_tax(lines, category=category_for(account.tax_status), rates=rates)
    fields = services.finalized_fields(
        invoice=invoice, lines=lines, account=account, issue=as_of, rates=rates, now=now
    )
    for name, value in fields.items():
        setattr(invoice, name, value)
    return PreparedInvoice(boundary=boundary, invoice=invoice, lines=lines, usage=usage)


def _existing_keys(keys: Iterable[str]) -> set[str]:
    return set(
        Invoice.objects.filter(billing_key__in=list(keys)).values_list("billing_key", flat=True)
    )


def _waves(boundaries: list[Boundary]) -> list[list[Boundary]]:
    """The k-th wave holds each subscription's k-th boundary: a later period of a subscription
    is computed only after its earlier one is written (its usage adjustments depend on it)."""
    waves: list[list[Boundary]] = []
    position: dict[int, int] = defaultdict(int)
    for boundary in boundaries:
        k = position[boundary.subscription.pk]
        position[boundary.subscription.pk] += 1
        if k == len(waves):
            waves.append([])
        waves[k].append(boundary)
    return waves


def billing_run(*, as_of: dt.date, now: dt.datetime | None = None) -> BillingRunResult:
    """Invoice every due subscription period up to ``as_of``. Safe to run again at any time."""
    now = now or timezone.now()
    run = BillingRun.objects.create(as_of=as_of, started_at=now)
    result = BillingRunResult(run_id=run.pk, as_of=as_of)
    rates = RateBook(as_of)
    series = series_get(INVOICE_SERIES)
    for chunk in _due(as_of):
        existing = _existing_keys(b.key for b in chunk)
        todo = [b for b in chunk if b.key not in existing]
        result.skipped += len(chunk) - len(todo)
        for wave in _waves(todo):
            _bill_wave(wave, result=result, as_of=as_of, now=now, rates=rates, series=series)
    BillingRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        created_count=result.created,
        skipped_count=result.skipped + result.empty,
        error_count=len(result.errors),
        errors=result.errors[:1000],
    )
    return result


def _bill_wave(wave: list[Boundary], *, result: BillingRunResult, as_of, now, rates, series):
    from invoices.billing_batch import wave_context

    context = wave_context(wave)
    prepared = []
    try:
        for boundary in wave:
            invoice = _guarded(
                result,
                boundary,
                lambda b=boundary: bill_boundary(
                    b, as_of=as_of, now=now, rates=rates, series=series, context=context
                ),
            )
            if invoice is not None:
                prepared.append(invoice)
    except BaseException:
        # An interrupt (Ctrl-C, SystemExit on a worker's shutdown) keeps the invoices computed
        # so far: each is complete, and one transaction writes them before the interrupt goes
        # on. A hard kill loses the wave's transaction instead; the rerun bills it either way.
        try:
            _write(prepared, result=result, now=now, series=series)
        except Exception:  # noqa: BLE001 - the interrupt is what the caller must see
            logger.exception("writing the computed invoices on interrupt failed")
        raise
    _write(prepared, result=result, now=now, series=series)


def _write(prepared: list, *, result: BillingRunResult, now, series) -> None:
    from invoices.billing_batch import invoices_write

    if not prepared:
        return
    try:
        invoices = invoices_write(prepared=prepared, now=now, series=series)
    except Exception:  # noqa: BLE001 - retried one by one below, where errors are recorded
        logger.warning(
            "writing a wave of %d invoices failed; one by one", len(prepared), exc_info=True
        )
        invoices = []
        for p in prepared:
            written = _guarded(
                result,
                p.boundary,
                lambda p=p: invoices_write(prepared=[p], now=now, series=series),
            )
            invoices += written or []
    result.created += len(invoices)
    result.invoice_ids.extend(invoice.pk for invoice in invoices)


def _guarded(result: BillingRunResult, boundary: Boundary, action):
    """``action()`` for one boundary; what goes wrong is counted or recorded, never raised."""
    try:
        return action()
    except _NothingToBill:
        result.empty += 1
    except IntegrityError as exc:
        if "billing_key" in str(exc):
            result.skipped += 1  # a concurrent run billed it first
        else:
            _record(result, boundary, "integrity_error", str(exc))
    except PaydeskError as exc:
        _record(result, boundary, exc.code, exc.detail)
    except Exception as exc:  # noqa: BLE001 - one bad subscription must not stop the run
        logger.exception("billing failed", extra={"key": boundary.key})
        _record(result, boundary, "unexpected_error", f"{type(exc).__name__}: {exc}")
    return None


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
