import datetime as dt

import pytest

from ledger import chart
from ledger.services import LineSpec, journal_post


@pytest.fixture
def post(db):
    """Post a simple entry: ``post("inv-1", [(code, debit, credit, currency), ...])``."""
    counter = {"n": 0}

    def make(
        document_id: str,
        lines,
        *,
        entry_date=dt.date(2026, 3, 1),
        document_type="invoice",
        key=None,
        number="",
        party="",
        open_item="",
    ):
        counter["n"] += 1
        return journal_post(
            entry_date=entry_date,
            memo=f"test entry {counter['n']}",
            lines=[
                LineSpec(code, debit_minor=d, credit_minor=c, currency=cur, open_item=open_item)
                for code, d, c, cur in lines
            ],
            document_type=document_type,
            document_id=document_id,
            document_number=number,
            idempotency_key=key or f"test:{document_type}:{document_id}:{counter['n']}",
            party=party,
        )

    return make


@pytest.fixture
def codes(db):
    return {
        "receivables": chart.code("receivables"),
        "revenue": chart.code("revenue"),
        "vat": chart.code("vat_payable"),
        "stripe": chart.code("psp_clearing", provider="stripe"),
        "fees": chart.code("psp_fees"),
        "bank": chart.code("bank"),
    }


@pytest.fixture
def roles_with_ledger(db):
    # staff's post_migrate hook runs before ledger's permissions exist (staff migrates
    # first), so the role groups lack them in a fresh test database; apply them again.
    from staff.roles import roles_apply

    roles_apply(with_default_limits=False)
