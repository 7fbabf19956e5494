"""Database triggers that make finalized invoices and issued credit notes immutable.

The column lists are explicit: ``tests/invoices/test_immutability.py`` fails when a column is
added to a document table without deciding here whether it may change after finalization.
"""

from __future__ import annotations

import pgtrigger

from invoices.choices import INVOICE_TRANSITIONS, REOPENING_TRANSITIONS, InvoiceStatus

# Columns that may still change on a finalized invoice: its settlement and its (once-only) PDF.
INVOICE_MUTABLE_COLUMNS = (
    "status",
    "amount_paid_minor",
    "amount_credited_minor",
    "paid_at",
    "voided_at",
    "void_reason",
    "uncollectible_at",
    "pdf",
    "pdf_sha256",
    "updated_at",
)
INVOICE_PROTECTED_COLUMNS = (
    "id",
    "account_id",
    "subscription_id",
    "series_id",
    "number",
    "sequence",
    "kind",
    "billing_key",
    "currency",
    "issue_date",
    "due_date",
    "service_period_start",
    "service_period_end",
    "language",
    "customer_snapshot",
    "seller_snapshot",
    "net_minor",
    "tax_minor",
    "gross_minor",
    "tax_breakdown",
    "tax_note",
    "credit_applied_minor",
    "memo",
    "finalized_at",
    "created_at",
)

CREDIT_NOTE_MUTABLE_COLUMNS = ("status", "pdf", "pdf_sha256", "updated_at")
CREDIT_NOTE_PROTECTED_COLUMNS = (
    "id",
    "invoice_id",
    "account_id",
    "series_id",
    "number",
    "sequence",
    "currency",
    "issue_date",
    "reason",
    "language",
    "customer_snapshot",
    "seller_snapshot",
    "net_minor",
    "tax_minor",
    "gross_minor",
    "tax_breakdown",
    "tax_note",
    "applied_to_invoice_minor",
    "to_customer_credit_minor",
    "issued_at",
    "issued_by_id",
    "created_at",
)


def _row(prefix: str, columns: tuple[str, ...]) -> str:
    return "ROW(" + ", ".join(f"{prefix}.{c}" for c in columns) + ")"


def _transition_pairs(*, reopening: bool = False) -> str:
    pairs = [
        f"('{old}', '{new}')"
        for old, targets in INVOICE_TRANSITIONS.items()
        for new in sorted(targets)
        if ((old, new) in REOPENING_TRANSITIONS) == reopening
    ]
    return ", ".join(pairs) or "('', '')"  # SQL has no empty IN list


_INVOICE_FUNC = f"""
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> '{InvoiceStatus.DRAFT}' THEN
            RAISE EXCEPTION 'invoice % is finalized and cannot be deleted', OLD.number;
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status
       AND (OLD.status::text, NEW.status::text) NOT IN ({_transition_pairs()})
       AND NOT ((OLD.status::text, NEW.status::text) IN ({_transition_pairs(reopening=True)})
                AND NEW.amount_paid_minor < OLD.amount_paid_minor) THEN
        RAISE EXCEPTION 'invoice status cannot change from % to %', OLD.status, NEW.status;
    END IF;
    IF OLD.status <> '{InvoiceStatus.DRAFT}' THEN
        IF {_row("OLD", INVOICE_PROTECTED_COLUMNS)}
           IS DISTINCT FROM {_row("NEW", INVOICE_PROTECTED_COLUMNS)} THEN
            RAISE EXCEPTION 'finalized invoice % is immutable; issue a credit note', OLD.number;
        END IF;
        IF OLD.pdf_sha256 <> '' AND (NEW.pdf_sha256 IS DISTINCT FROM OLD.pdf_sha256
                                     OR NEW.pdf IS DISTINCT FROM OLD.pdf) THEN
            RAISE EXCEPTION 'the PDF of invoice % is stored once and never replaced', OLD.number;
        END IF;
    END IF;
    RETURN NEW;
END;
"""

INVOICE_DOCUMENT = pgtrigger.Trigger(
    name="invoice_document",
    level=pgtrigger.Row,
    when=pgtrigger.Before,
    operation=pgtrigger.Update | pgtrigger.Delete,
    func=_INVOICE_FUNC,
)


def _lines_func(*, parent_table: str, fk: str, what: str) -> str:
    # FOR SHARE: a line written while another transaction finalizes the parent waits for it and
    # then sees the new status, instead of slipping in under the old snapshot. The names put
    # into the SQL are constants of this module, never input.
    return f"""
DECLARE
    parent_status text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT status INTO parent_status FROM {parent_table} WHERE id = OLD.{fk} FOR SHARE;
        IF parent_status IS NOT NULL AND parent_status <> 'DRAFT' THEN
            RAISE EXCEPTION 'lines of a {what} are immutable';
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT status INTO parent_status FROM {parent_table} WHERE id = NEW.{fk} FOR SHARE;
        IF parent_status IS NOT NULL AND parent_status <> 'DRAFT' THEN
            RAISE EXCEPTION 'lines of a {what} are immutable';
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END;
"""  # noqa: S608


INVOICE_LINES_FROZEN = pgtrigger.Trigger(
    name="lines_frozen",
    level=pgtrigger.Row,
    when=pgtrigger.Before,
    operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
    func=_lines_func(parent_table="invoices_invoice", fk="invoice_id", what="finalized invoice"),
)

CREDIT_NOTE_DOCUMENT = pgtrigger.Trigger(
    name="credit_note_document",
    level=pgtrigger.Row,
    when=pgtrigger.Before,
    operation=pgtrigger.Update | pgtrigger.Delete,
    func=f"""
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'DRAFT' THEN
            RAISE EXCEPTION 'credit note % is issued and cannot be deleted', OLD.number;
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT (OLD.status = 'DRAFT' AND NEW.status = 'ISSUED') THEN
        RAISE EXCEPTION 'credit note status cannot change from % to %', OLD.status, NEW.status;
    END IF;
    IF OLD.status <> 'DRAFT' THEN
        IF {_row("OLD", CREDIT_NOTE_PROTECTED_COLUMNS)}
           IS DISTINCT FROM {_row("NEW", CREDIT_NOTE_PROTECTED_COLUMNS)} THEN
            RAISE EXCEPTION 'issued credit note % is immutable', OLD.number;
        END IF;
        IF OLD.pdf_sha256 <> '' AND (NEW.pdf_sha256 IS DISTINCT FROM OLD.pdf_sha256
                                     OR NEW.pdf IS DISTINCT FROM OLD.pdf) THEN
            RAISE EXCEPTION 'the PDF of credit note % is stored once', OLD.number;
        END IF;
    END IF;
    RETURN NEW;
END;
""",
)

CREDIT_NOTE_LINES_FROZEN = pgtrigger.Trigger(
    name="lines_frozen",
    level=pgtrigger.Row,
    when=pgtrigger.Before,
    operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
    func=_lines_func(
        parent_table="invoices_creditnote", fk="credit_note_id", what="issued credit note"
    ),
)
