"""Customer credit paid out as a refund: a refund with a credit note pays the customer once."""

from decimal import Decimal

import pytest

from invoices.customer_credit import (
    CustomerCreditInsufficient,
    customer_credit_refund,
    customer_credit_refund_reverse,
)
from invoices.models import CreditNote, CustomerCreditTransaction
from invoices.services import credit_balance, credit_note_issue, invoice_finalize
from ledger.selectors import trial_balance
from tests.fakes.plugin import fake_stripe  # noqa: F401
from tests.invoices.conftest import NOW, draft_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_psp(settings, fake_stripe):  # noqa: F811
    settings.STRIPE_SECRET_KEY = fake_stripe.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake_stripe.webhook_secret
    settings.STRIPE_API_BASE = fake_stripe.base_url
    settings.STRIPE_TIMEOUT_S = 5
    return fake_stripe


def _balanced() -> bool:
    return all(t.debit_minor == t.credit_minor for t in trial_balance().totals.values())


def _ledger_balance(code_kind: str) -> int:
    from ledger import chart

    code = chart.code(code_kind)
    return sum(
        row.debit_minor - row.credit_minor
        for row in trial_balance().rows
        if row.account_code == code
    )


def _invoice_of_100(account):
    # 84.03 net + 19 % VAT (15.97) = 100.00 gross.
    return invoice_finalize(
        invoice=draft_with(account, ("Cloud plan", "1", "84.03")), now=NOW, pdf_mode="deferred"
    )


def test_refund_with_credit_note_pays_the_customer_once(account, stripe_psp, support_lead):
    from payments.choices import RefundReason, RefundStatus
    from payments.refunds import refund_request
    from payments.services import payment_charge_invoice

    invoice = _invoice_of_100(account)
    assert invoice.gross_minor == 100_00
    payment = payment_charge_invoice(
        invoice=invoice, provider="stripe", payment_method_id="pm_card_visa"
    )
    invoice.refresh_from_db()
    assert invoice.status == "PAID"

    refund = refund_request(
        payment=payment,
        amount_minor=40_00,
        reason=RefundReason.SERVICE_ISSUE,
        note="outage on the 3rd",
        actor=support_lead,
        with_credit_note=True,
    )

    assert refund.status == RefundStatus.SUCCEEDED
    note = CreditNote.objects.get(invoice=invoice)
    assert note.number == refund.credit_note_ref
    assert note.gross_minor == 40_00
    assert note.to_customer_credit_minor == 40_00  # the invoice was paid: it became credit
    assert credit_balance(account_id=account.pk, currency="EUR") == 0  # and was paid out
    assert [r["amount"] for r in stripe_psp.refunds.values()] == [40_00]
    assert _balanced()
    assert _ledger_balance("customer_credit") == 0
    assert _ledger_balance("refunds") == 0  # the credit note corrected revenue and VAT

    following = invoice_finalize(
        invoice=draft_with(account, ("Cloud plan", "1", "84.03")), now=NOW, pdf_mode="deferred"
    )
    assert following.credit_applied_minor == 0
    assert following.status == "OPEN"


def test_payout_is_idempotent_and_never_exceeds_the_credit(account):
    invoice = _invoice_of_100(account)
    from invoices.services import invoice_mark_paid

    invoice_mark_paid(invoice=invoice, amount_minor=100_00, paid_at=NOW, reference="bank-1")
    credit_note_issue(invoice=invoice, reason="goodwill", amount_minor=30_00, now=NOW)
    assert credit_balance(account_id=account.pk, currency="EUR") == 30_00

    with pytest.raises(CustomerCreditInsufficient):
        customer_credit_refund(
            account=account, currency="EUR", amount_minor=30_01, reference="refund:a", now=NOW
        )
    assert credit_balance(account_id=account.pk, currency="EUR") == 30_00

    first = customer_credit_refund(
        account=account, currency="EUR", amount_minor=30_00, reference="refund:b", now=NOW
    )
    again = customer_credit_refund(
        account=account, currency="EUR", amount_minor=30_00, reference="refund:b", now=NOW
    )
    assert (first.replayed, again.replayed) == (False, True)
    assert first.balance_minor == again.balance_minor == 0
    assert CustomerCreditTransaction.objects.filter(kind="REFUNDED").count() == 1
    assert _ledger_balance("customer_credit") == 0
    assert _balanced()


def test_a_failed_refund_gives_the_credit_back(account):
    from invoices.services import invoice_mark_paid

    invoice = _invoice_of_100(account)
    invoice_mark_paid(invoice=invoice, amount_minor=100_00, paid_at=NOW, reference="bank-1")
    credit_note_issue(invoice=invoice, reason="goodwill", amount_minor=25_00, now=NOW)
    customer_credit_refund(
        account=account, currency="EUR", amount_minor=25_00, reference="refund:7", now=NOW
    )
    assert credit_balance(account_id=account.pk, currency="EUR") == 0

    restored = customer_credit_refund_reverse(
        account=account, currency="EUR", reference="refund:7", now=NOW
    )
    again = customer_credit_refund_reverse(
        account=account, currency="EUR", reference="refund:7", now=NOW
    )
    assert restored.amount_minor == 25_00 and not restored.replayed and again.replayed
    assert credit_balance(account_id=account.pk, currency="EUR") == 25_00
    assert -_ledger_balance("customer_credit") == 25_00  # the liability is back, once
    assert _balanced()
    assert (
        customer_credit_refund_reverse(
            account=account, currency="EUR", reference="refund:never", now=NOW
        )
        is None
    )

    following = invoice_finalize(
        invoice=draft_with(account, ("Seat", "1", Decimal("10.00"))), now=NOW, pdf_mode="deferred"
    )
    assert following.credit_applied_minor == 11_90
