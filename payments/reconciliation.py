"""Payout import and reconciliation: what the PSP paid out against what Paydesk recorded.

Per payout: the lines (charges, refunds, fees, disputes, adjustments) are stored and matched to
our payments and refunds; fees not yet in the ledger are posted (Dr PSP fees / Cr PSP clearing),
and the payout itself (Dr bank or payouts in transit / Cr PSP clearing). The report lists every
difference: at the PSP but not ours, ours but in no payout, amounts that differ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from payments import posting
from payments.choices import PaymentStatus, ReconciliationKind, RefundStatus
from payments.gateways.base import Payout as PspPayout
from payments.gateways.base import SettlementLineKind
from payments.models import (
    Payment,
    Payout,
    PayoutLine,
    ReconciliationLine,
    ReconciliationReport,
    Refund,
)
from payments.providers import gateway_for

# A succeeded payment older than this and still in no payout is listed as missing at the PSP.
PAYOUT_GRACE = dt.timedelta(days=7)


def payouts_import(
    *, provider: str, since: dt.datetime, now: dt.datetime | None = None
) -> list[Payout]:
    """Fetch payouts from the PSP (outside any transaction), then store and post each."""
    fetched = gateway_for(provider).payouts_list(since=since)
    return [payout_store(provider=provider, psp=p, now=now) for p in fetched]


def _match(provider: str, line) -> tuple[Payment | None, Refund | None]:
    if line.kind == SettlementLineKind.REFUND:
        refund = Refund.objects.filter(provider=provider, psp_refund_id=line.psp_object_id).first()
        return (refund.payment if refund else None), refund
    if line.psp_payment_id:
        payment = Payment.objects.filter(
            provider=provider, psp_payment_id=line.psp_payment_id
        ).first()
        return payment, None
    return None, None


def payout_store(*, provider: str, psp: PspPayout, now: dt.datetime | None = None) -> Payout:
    now = now or timezone.now()
    with transaction.atomic():
        payout, created = Payout.objects.select_for_update().get_or_create(
            provider=provider,
            psp_payout_id=psp.psp_payout_id,
            defaults={
                "amount_minor": psp.amount_minor,
                "currency": psp.currency,
                "fee_minor": psp.fee_minor,
                "arrival_date": psp.arrival_date,
                "status": psp.status,
                "imported_at": now,
            },
        )
        if not created and payout.status != psp.status:
            payout.status = psp.status
            payout.save(update_fields=["status"])
        if created:
            for line in psp.lines:
                payment, refund = _match(provider, line)
                PayoutLine.objects.create(
                    payout=payout,
                    kind=line.kind,
                    psp_object_id=line.psp_object_id,
                    psp_payment_id=line.psp_payment_id or "",
                    gross_minor=line.gross_minor,
                    fee_minor=line.fee_minor,
                    net_minor=line.net_minor,
                    currency=line.currency,
                    payment=payment,
                    refund=refund,
                )
        _post_fees(payout, now=now)
        _post_payout(payout, now=now)
        reconcile(payout=payout, now=now)
    return payout


def _post_fees(payout: Payout, *, now) -> None:
    """Fees the payout reveals that the ledger does not have yet (each posted once)."""
    for line in payout.lines.select_related("payment"):
        if not line.fee_minor:
            continue
        payment = line.payment
        if (
            line.kind == SettlementLineKind.CHARGE
            and payment is not None
            and payment.fee_posted_at is not None
        ):
            continue  # posted when the payment succeeded
        posting.post_fee(
            key=f"payout:{payout.pk}:fee:{line.pk}",
            provider=payout.provider,
            amount_minor=line.fee_minor,
            currency=line.currency,
            memo=f"{payout.provider} fee, {line.kind} {line.psp_object_id}",
            document_type="payout",
            document_id=payout.pk,
            now=now,
        )
        if payment is not None and line.kind == SettlementLineKind.CHARGE:
            Payment.objects.filter(pk=payment.pk, fee_posted_at__isnull=True).update(
                fee_minor=line.fee_minor, fee_posted_at=now
            )


def _post_payout(payout: Payout, *, now) -> None:
    if payout.status in ("failed", "canceled"):
        return
    if payout.posted_at is None:
        posting.post_payout(payout, now=now)
        payout.posted_at = now
        if payout.status == "paid":
            payout.arrived_posted_at = now
        payout.save(update_fields=["posted_at", "arrived_posted_at"])
    elif payout.status == "paid" and payout.arrived_posted_at is None:
        posting.post_payout_arrived(payout, now=now)
        payout.arrived_posted_at = now
        payout.save(update_fields=["arrived_posted_at"])


def _line_rows(payout: Payout) -> Iterable[ReconciliationLine]:
    for line in payout.lines.select_related("payment", "refund"):
        if line.kind == SettlementLineKind.CHARGE:
            ours = line.payment
            if ours is None or ours.status != PaymentStatus.SUCCEEDED:
                yield ReconciliationLine(
                    kind=ReconciliationKind.MISSING_LOCALLY,
                    psp_object_id=line.psp_payment_id or line.psp_object_id,
                    payment=ours,
                    psp_minor=line.gross_minor,
                    note="charge at the PSP has no completed payment in Paydesk",
                )
            elif ours.amount_minor != line.gross_minor:
                yield ReconciliationLine(
                    kind=ReconciliationKind.AMOUNT_MISMATCH,
                    psp_object_id=line.psp_object_id,
                    payment=ours,
                    ours_minor=ours.amount_minor,
                    psp_minor=line.gross_minor,
                )
            else:
                yield ReconciliationLine(
                    kind=ReconciliationKind.MATCHED,
                    psp_object_id=line.psp_object_id,
                    payment=ours,
                    ours_minor=ours.amount_minor,
                    psp_minor=line.gross_minor,
                )
        elif line.kind == SettlementLineKind.REFUND:
            ours = line.refund
            psp_amount = -line.gross_minor
            if ours is None or ours.status not in (RefundStatus.SUCCEEDED, RefundStatus.PENDING):
                yield ReconciliationLine(
                    kind=ReconciliationKind.MISSING_LOCALLY,
                    psp_object_id=line.psp_object_id,
                    refund=ours,
                    psp_minor=psp_amount,
                    note="refund at the PSP is not recorded as sent in Paydesk",
                )
            elif ours.amount_minor != psp_amount:
                yield ReconciliationLine(
                    kind=ReconciliationKind.AMOUNT_MISMATCH,
                    psp_object_id=line.psp_object_id,
                    refund=ours,
                    ours_minor=ours.amount_minor,
                    psp_minor=psp_amount,
                )
            else:
                yield ReconciliationLine(
                    kind=ReconciliationKind.MATCHED,
                    psp_object_id=line.psp_object_id,
                    refund=ours,
                    ours_minor=ours.amount_minor,
                    psp_minor=psp_amount,
                )


def _missing_at_psp(payout: Payout) -> Iterable[ReconciliationLine]:
    if payout.arrival_date is None:
        return
    cutoff = dt.datetime.combine(payout.arrival_date, dt.time.min, tzinfo=dt.UTC) - PAYOUT_GRACE
    orphans = Payment.objects.filter(
        provider=payout.provider,
        currency=payout.currency,
        status=PaymentStatus.SUCCEEDED,
        created_at__lt=cutoff,
        payout_lines__isnull=True,
    ).order_by("pk")[:500]
    for payment in orphans:
        yield ReconciliationLine(
            kind=ReconciliationKind.MISSING_AT_PSP,
            psp_object_id=payment.psp_payment_id or "",
            payment=payment,
            ours_minor=payment.amount_minor,
            note="completed in Paydesk but in no payout of the PSP",
        )


def reconcile(*, payout: Payout, now: dt.datetime | None = None) -> ReconciliationReport:
    """(Re)build the payout's report. Expected = what our records say the payout should be."""
    now = now or timezone.now()
    rows = [*_line_rows(payout), *_missing_at_psp(payout)]
    fees = sum(line.fee_minor for line in payout.lines.all())
    other = sum(
        line.net_minor
        for line in payout.lines.all()
        if line.kind not in (SettlementLineKind.CHARGE, SettlementLineKind.REFUND)
    )
    expected = (
        sum(r.ours_minor or 0 for r in rows if r.payment_id and r.kind != "missing_at_psp")
        - sum(r.ours_minor or 0 for r in rows if r.refund_id)
        - sum(
            line.fee_minor
            for line in payout.lines.all()
            if line.kind in (SettlementLineKind.CHARGE, SettlementLineKind.REFUND)
        )
        + other
    )
    del fees
    with transaction.atomic():
        ReconciliationReport.objects.filter(payout=payout).delete()
        report = ReconciliationReport.objects.create(
            payout=payout,
            currency=payout.currency,
            expected_minor=expected,
            received_minor=payout.amount_minor,
            matched_count=sum(1 for r in rows if r.kind == ReconciliationKind.MATCHED),
            difference_count=sum(1 for r in rows if r.kind != ReconciliationKind.MATCHED),
            created_at=now,
        )
        for row in rows:
            row.report = report
        ReconciliationLine.objects.bulk_create(rows)
    return report


def payouts_import_all(*, since: dt.datetime, now=None) -> dict[str, int]:
    """Import from every configured provider (the beat task)."""
    from payments.exceptions import ProviderNotConfigured
    from payments.gateways import PROVIDERS

    out: dict[str, int] = {}
    for provider in PROVIDERS:
        try:
            out[provider] = len(payouts_import(provider=provider, since=since, now=now))
        except ProviderNotConfigured:
            continue
    return out
