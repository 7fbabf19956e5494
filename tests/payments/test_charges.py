import datetime as dt

import pytest
from django.utils import timezone

from payments.choices import PaymentStatus
from payments.models import Payment
from payments.services import payment_charge
from payments.sync import sync_unknown

pytestmark = pytest.mark.django_db(transaction=True)


def _trial_balance_zero() -> bool:
    from ledger.selectors import trial_balance

    tb = trial_balance()
    totals: dict[str, int] = {}
    for row in tb.rows:
        totals[row.currency] = totals.get(row.currency, 0) + row.debit_minor - row.credit_minor
    return all(v == 0 for v in totals.values())


def test_successful_charge_is_posted_with_its_fee(account, stripe_psp):
    payment = payment_charge(
        account=account,
        amount_minor=50_00,
        currency="EUR",
        provider="stripe",
        payment_method_id="pm_card_visa",
    )
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.psp_payment_id.startswith("pi_")
    # 1.4 % + 0.25 at the fake
    assert payment.fee_minor == 95
    assert payment.posted_at is not None and payment.fee_posted_at is not None
    from ledger.models import JournalEntry

    docs = set(JournalEntry.objects.values_list("idempotency_key", flat=True))
    assert {f"payment:{payment.pk}:received", f"payment:{payment.pk}:fee"} <= docs
    assert _trial_balance_zero()


def test_decline_keeps_the_decline_code_and_posts_nothing(account, stripe_psp):
    payment = payment_charge(
        account=account,
        amount_minor=50_00,
        currency="EUR",
        provider="stripe",
        payment_method_id="pm_card_chargeDeclinedInsufficientFunds",
    )
    assert payment.status == PaymentStatus.FAILED
    assert payment.decline_code == "insufficient_funds"
    assert payment.posted_at is None
    kinds = list(payment.events.values_list("kind", "to_status"))
    assert ("attempt_recorded", "PENDING") in kinds and ("status_changed", "FAILED") in kinds


def test_timeout_leaves_unknown_and_sync_resolves_without_charging_twice(
    account, stripe_psp_short_timeout
):
    fake = stripe_psp_short_timeout
    fake.timeout_next(seconds=5, path="/v1/payment_intents$")
    payment = payment_charge(
        account=account,
        amount_minor=42_00,
        currency="EUR",
        provider="stripe",
        payment_method_id="pm_card_visa",
    )
    assert payment.status == PaymentStatus.UNKNOWN
    assert payment.posted_at is None
    assert len(fake.payment_intents) == 1  # the PSP did charge

    result = sync_unknown(now=timezone.now() + dt.timedelta(seconds=1))

    payment.refresh_from_db()
    assert result.payments_resolved == 1
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.psp_payment_id == next(iter(fake.payment_intents))
    assert len(fake.payment_intents) == 1
    assert len(fake.requests_to("POST", "/v1/payment_intents")) == 1
    # running the janitor again changes nothing
    assert sync_unknown(now=timezone.now() + dt.timedelta(hours=1)).payments_resolved == 0


def test_attempt_that_never_reached_the_psp_is_failed_after_grace(account, stripe_psp):
    from payments.services import payment_start

    payment = payment_start(
        account=account,
        amount_minor=10_00,
        currency="EUR",
        provider="stripe",
        payment_method_id="pm_card_visa",
    )
    # soon after: the PSP's search may lag, so nothing is decided
    sync_unknown(now=timezone.now() + dt.timedelta(minutes=11))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert "no record" in payment.failure_message
    assert stripe_psp.payment_intents == {}


def test_redelivered_charge_task_does_not_charge_twice(account, stripe_psp, monkeypatch):
    """The worker dies after the PSP call, before the result is recorded; the task comes back."""
    from payments import services, tasks
    from payments.services import payment_start

    payment = payment_start(
        account=account,
        amount_minor=30_00,
        currency="EUR",
        provider="stripe",
        payment_method_id="pm_card_visa",
    )
    real = services.payment_record_result

    def crash(**kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(services, "payment_record_result", crash)
    with pytest.raises(SystemExit):
        tasks.charge_invoice.run(payment.pk)
    monkeypatch.setattr(services, "payment_record_result", real)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PENDING

    tasks.charge_invoice.run(payment.pk)  # acks_late redelivery

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert len(stripe_psp.payment_intents) == 1  # the second call was an idempotent replay
