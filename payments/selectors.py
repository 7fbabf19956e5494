from __future__ import annotations

from collections.abc import Iterator

from common.money import Money
from payments.choices import PaymentStatus
from payments.models import Payment, ReconciliationReport


def payments_for_account(*, account_id: int):
    return Payment.objects.filter(account_id=account_id).order_by("-created_at", "-pk")


def payments_refundable(*, account_id: int):
    return payments_for_account(account_id=account_id).filter(status=PaymentStatus.SUCCEEDED)


def reconciliation_reports(*, provider: str | None = None, with_differences: bool = False):
    qs = ReconciliationReport.objects.select_related("payout").order_by("-created_at", "-pk")
    if provider:
        qs = qs.filter(payout__provider=provider)
    if with_differences:
        qs = qs.filter(difference_count__gt=0)
    return qs


def _amount(minor: int | None, currency: str) -> str:
    return "" if minor is None else str(Money(minor, currency).to_decimal())


def reconciliation_csv_rows(report: ReconciliationReport) -> Iterator[list[str]]:
    payout, currency = report.payout, report.currency
    yield ["provider", "payout", "arrival_date", "currency", "expected", "received", "difference"]
    yield [
        payout.provider,
        payout.psp_payout_id,
        payout.arrival_date.isoformat() if payout.arrival_date else "",
        currency,
        _amount(report.expected_minor, currency),
        _amount(report.received_minor, currency),
        _amount(report.difference_minor, currency),
    ]
    yield []
    yield ["kind", "psp_object", "payment", "refund", "paydesk_amount", "psp_amount", "note"]
    for line in report.lines.order_by("kind", "pk").iterator(chunk_size=2000):
        yield [
            line.kind,
            line.psp_object_id,
            str(line.payment_id or ""),
            str(line.refund_id or ""),
            _amount(line.ours_minor, currency),
            _amount(line.psp_minor, currency),
            line.note,
        ]
