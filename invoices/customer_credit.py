"""Money going back out after an invoice was settled.

* Customer credit paid out as a refund. A credit note on a paid invoice leaves its amount as
  customer credit; when the same amount is refunded in cash, that credit must be used up, or the
  next invoice would consume it and the customer would get it twice. The payout is a debit in
  the credit ledger (``CustomerCreditTransaction``) and a journal entry
  Dr customer credit / Cr refunds; the payments app posts the cash side of the refund as
  Dr refunds / Cr PSP clearing, so the refunds account nets to zero for such refunds.
* A payment the PSP took back after the invoice was marked paid (a Braintree sale declined at
  settlement): the invoice goes back to OPEN with the amount owed again. The payments app posts
  the journal entry (Dr receivables / Cr PSP clearing).

Each write is idempotent on the caller's ``reference``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from common.exceptions import Conflict, NotFound, ValidationFailed
from invoices import posting
from invoices.choices import CreditTransactionKind, InvoiceStatus
from invoices.exceptions import InvalidInvoiceTransition, ReasonRequired
from invoices.models import CustomerCreditTransaction, Invoice, InvoicePayment
from ledger.models import JournalEntry
from ledger.services import journal_post, journal_reverse


class CustomerCreditInsufficient(Conflict):
    code = "customer_credit_insufficient"
    title = "The customer has less credit than the amount to pay out."


class InvalidCreditPayout(ValidationFailed):
    code = "invalid_credit_payout"
    title = "The customer credit payout is not valid."


class InvoicePaymentNotFound(NotFound):
    code = "invoice_payment_not_found"
    title = "No payment with this reference is recorded on the invoice."


@dataclass(frozen=True)
class CreditPayout:
    account_id: int
    currency: str
    amount_minor: int
    balance_minor: int  # the customer's credit in this currency afterwards
    journal_entry_id: int
    replayed: bool  # True when the reference had been paid out (or restored) before


def credit_balance(*, account_id: int, currency: str) -> int:
    from invoices.services import credit_balance as balance

    return balance(account_id=account_id, currency=currency)


def _payout_key(reference: str) -> str:
    return f"customer_credit:refund:{reference}"


def _check_reference(reference: str) -> str:
    reference = (reference or "").strip()
    if not reference:
        raise InvalidCreditPayout("a payout needs its reference", field="reference")
    # The journal's idempotency key holds 200 characters, with its prefix.
    if len(_payout_key(reference)) > 190:
        raise InvalidCreditPayout("the reference is too long", field="reference")
    return reference


def _locked_account(account) -> Account:
    return Account.objects.select_for_update().get(pk=getattr(account, "pk", account))


def customer_credit_refund(
    *,
    account,
    currency: str,
    amount_minor: int,
    reference: str,
    actor=None,
    now: dt.datetime | None = None,
) -> CreditPayout:
    """Pay ``amount_minor`` of the account's customer credit out as a refund.

    Dr customer credit / Cr refunds, and a REFUNDED debit in the credit ledger, so the next
    invoice no longer consumes it. The same ``reference`` again changes nothing. Refused with
    ``customer_credit_insufficient`` when the account has less credit than that.
    """
    if type(amount_minor) is not int or amount_minor <= 0:
        raise InvalidCreditPayout("the amount must be a positive int", field="amount_minor")
    reference = _check_reference(reference)
    now = now or timezone.now()
    key = _payout_key(reference)
    with transaction.atomic():
        # The account row serializes every credit movement of the account, as finalize does.
        locked = _locked_account(account)
        entry = JournalEntry.objects.filter(idempotency_key=key).first()
        if entry is not None:
            return CreditPayout(
                locked.pk,
                currency,
                amount_minor,
                credit_balance(account_id=locked.pk, currency=currency),
                entry.pk,
                replayed=True,
            )
        balance = credit_balance(account_id=locked.pk, currency=currency)
        if amount_minor > balance:
            raise CustomerCreditInsufficient(
                f"the account has {balance} {currency} (minor units) of credit, not {amount_minor}",
                balance_minor=balance,
                currency=currency,
            )
        CustomerCreditTransaction.objects.create(
            account=locked,
            currency=currency,
            amount_minor=-amount_minor,
            kind=CreditTransactionKind.REFUNDED,
            created_at=now,
        )
        text = f"credit paid out ({reference})"
        entry = journal_post(
            entry_date=timezone.localdate(now),
            memo=f"Customer credit paid out as a refund ({reference})",
            lines=posting._signed_lines(
                [
                    (posting._code("customer_credit"), amount_minor, text, "", ""),
                    (posting._code("refunds"), -amount_minor, text, "", ""),
                ],
                currency,
            ),
            document_type="customer_credit",
            document_id=reference[:64],
            idempotency_key=key,
            actor=actor,
            now=now,
            party=f"account:{locked.pk}",
        )
    return CreditPayout(
        locked.pk, currency, amount_minor, balance - amount_minor, entry.pk, replayed=False
    )


def customer_credit_refund_reverse(
    *,
    account,
    currency: str,
    reference: str,
    actor=None,
    now: dt.datetime | None = None,
) -> CreditPayout | None:
    """The refund that paid credit out failed at the PSP: give the customer the credit back
    (a REFUND_REVERSED credit and the payout entry reversed). None when ``reference`` paid
    nothing out; the same ``reference`` again changes nothing."""
    reference = _check_reference(reference)
    now = now or timezone.now()
    key = _payout_key(reference)
    with transaction.atomic():
        locked = _locked_account(account)
        entry = JournalEntry.objects.filter(idempotency_key=key).first()
        if entry is None:
            return None
        amount = sum(line.debit_minor for line in entry.lines.all() if line.debit_minor)
        prior = JournalEntry.objects.filter(reversal_of=entry).first()
        replayed = prior is not None
        if prior is None:
            CustomerCreditTransaction.objects.create(
                account=locked,
                currency=currency,
                amount_minor=amount,
                kind=CreditTransactionKind.REFUND_REVERSED,
                created_at=now,
            )
            prior = journal_reverse(
                entry=entry,
                memo=f"Refund failed: customer credit restored ({reference})",
                idempotency_key=f"{key}:reversed",
                actor=actor,
                now=now,
            )
        return CreditPayout(
            locked.pk,
            currency,
            amount,
            credit_balance(account_id=locked.pk, currency=currency),
            prior.pk,
            replayed=replayed,
        )


# --- payments taken back -------------------------------------------------------------------


def _reversal_marker(reference: str) -> str:
    # The history's change reason holds 100 characters: long references are shortened.
    if len(reference) > 60:
        reference = "sha1:" + hashlib.sha1(reference.encode()).hexdigest()[:24]  # noqa: S324
    return f"payment {reference} reversed"


def invoice_payment_reverse(
    *,
    invoice: Invoice,
    amount_minor: int,
    reference: str,
    reason: str,
    now: dt.datetime | None = None,
) -> Invoice:
    """Take back (part of) the payment recorded with ``reference``: the amount is owed again and
    a PAID invoice goes back to OPEN. The journal entry is the caller's (payments posts
    Dr receivables / Cr PSP clearing). The same ``reference`` again changes nothing: the
    reversal is kept, with its reason, in the invoice's history."""
    if type(amount_minor) is not int or amount_minor <= 0:
        raise InvalidCreditPayout("the amount must be a positive int", field="amount_minor")
    if not reason or not reason.strip():
        raise ReasonRequired("say why the payment is taken back", field="reason")
    if not reference:
        raise InvoicePaymentNotFound("a reversal needs the payment's reference")
    now = now or timezone.now()
    marker = _reversal_marker(reference)
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if Invoice.history.filter(id=locked.pk, history_change_reason__startswith=marker).exists():
            return _copy(invoice, locked)
        record = InvoicePayment.objects.filter(invoice=locked, reference=reference).first()
        if record is None:
            raise InvoicePaymentNotFound(
                f"invoice {locked.number} has no payment with reference {reference!r}",
                reference=reference,
            )
        if amount_minor > min(record.amount_minor, locked.amount_paid_minor):
            raise InvalidCreditPayout(
                f"{amount_minor} is more than the {record.amount_minor} that payment paid",
                field="amount_minor",
            )
        if locked.status not in (InvoiceStatus.PAID, InvoiceStatus.OPEN):
            raise InvalidInvoiceTransition(
                f"invoice {locked.number} is {locked.status}; its payments cannot be reversed here",
                status=locked.status,
            )
        locked.amount_paid_minor -= amount_minor
        fields = ["amount_paid_minor", "updated_at"]
        if locked.status == InvoiceStatus.PAID:
            from invoices.services import _transition, amount_due

            if amount_due(locked) > 0:
                _transition(locked, InvoiceStatus.OPEN)
                locked.paid_at = None
                fields += ["status", "paid_at"]
        locked._change_reason = f"{marker}: {reason.strip()}"[:100]
        locked.save(update_fields=fields)
    return _copy(invoice, locked)


def _copy(target: Invoice, source: Invoice) -> Invoice:
    for field in Invoice._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    return target
