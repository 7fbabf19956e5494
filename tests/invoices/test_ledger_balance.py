"""Any sequence of finalize / pay / void / credit leaves the ledger balanced, and the ledger
agrees with the documents: receivables per invoice, customer credit, VAT payable."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.exceptions import PaydeskError
from invoices.models import CreditNote, CustomerCreditTransaction, Invoice
from invoices.selectors import invoice_amount_due
from invoices.services import (
    credit_note_issue,
    invoice_finalize,
    invoice_mark_paid,
    invoice_void,
)
from ledger import chart
from ledger.models import JournalLine
from ledger.selectors import trial_balance
from ledger.services import LineSpec, journal_post
from tests.invoices.conftest import NOW, draft_with

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("invoice"),
            st.sampled_from(["1.00", "19.99", "0.05", "333.33"]),
            st.integers(1, 7),
        ),
        st.tuples(st.just("pay"), st.integers(0, 20), st.integers(1, 10_000)),
        st.tuples(st.just("void"), st.integers(0, 20), st.just(0)),
        st.tuples(st.just("credit"), st.integers(0, 20), st.integers(1, 50_000)),
        st.tuples(st.just("credit_all"), st.integers(0, 20), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)


def _balance(code: str, **filters) -> int:
    lines = JournalLine.objects.filter(account__code=code, **filters)
    return sum(ln.debit_minor - ln.credit_minor for ln in lines)


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_the_ledger_balances_and_matches_the_documents(account, steps):
    invoices: list[Invoice] = []
    payments = 0
    for kind, a, b in steps:
        target = invoices[a % len(invoices)] if invoices and kind != "invoice" else None
        try:
            if kind == "invoice":
                draft = draft_with(account, ("Service", str(b), a), ("Book", "1", a, "7.00"))
                invoices.append(invoice_finalize(invoice=draft, now=NOW, pdf_mode="deferred"))
            elif target is None:
                continue
            elif kind == "pay":
                amount = min(b, invoice_amount_due(target))
                payments += 1
                invoice_mark_paid(
                    invoice=target, amount_minor=amount, paid_at=NOW, reference=f"p{payments}"
                )
                # what the payments app posts for it
                journal_post(
                    entry_date=NOW.date(),
                    memo="payment",
                    document_type="payment",
                    document_id=str(payments),
                    idempotency_key=f"test-payment-{Invoice.objects.count()}-{payments}",
                    lines=[
                        LineSpec(chart.code("bank"), debit_minor=amount, currency="EUR"),
                        LineSpec(
                            chart.code("receivables"),
                            credit_minor=amount,
                            currency="EUR",
                            open_item=f"invoice:{target.pk}",
                        ),
                    ],
                )
            elif kind == "void":
                invoice_void(invoice=target, actor=None, reason="test")
            elif kind == "credit":
                credit_note_issue(
                    invoice=target, reason="test", amount_minor=b, now=NOW, pdf_mode="deferred"
                )
            else:
                credit_note_issue(invoice=target, reason="test", now=NOW, pdf_mode="deferred")
        except PaydeskError:
            pass  # refused steps (void of a paid invoice, credit beyond the invoice) change nothing

    assert trial_balance().is_balanced
    receivables, credit, vat = (
        chart.code(k) for k in ("receivables", "customer_credit", "vat_payable")
    )
    for invoice in Invoice.objects.filter(account=account):
        assert _balance(receivables, open_item=f"invoice:{invoice.pk}") == invoice_amount_due(
            invoice
        )
    credit_total = sum(CustomerCreditTransaction.objects.values_list("amount_minor", flat=True))
    assert -_balance(credit) == credit_total >= 0
    invoiced_tax = sum(Invoice.objects.exclude(status="VOID").values_list("tax_minor", flat=True))
    credited_tax = sum(CreditNote.objects.values_list("tax_minor", flat=True))
    assert -_balance(vat) == invoiced_tax - credited_tax
    # gross = net + tax on every document
    for doc in [*Invoice.objects.all(), *CreditNote.objects.all()]:
        assert doc.gross_minor == doc.net_minor + doc.tax_minor
    assert Decimal(0) <= Decimal(credit_total)
