"""Tax per rate on the sum of net lines (EN 16931 BR-CO-17), and gross = net + tax."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoices.services import invoice_finalize
from invoices.tax import tax_breakdown, tax_on
from tests.invoices.conftest import NOW


def test_tax_is_rounded_half_up_once():
    assert tax_on(250, Decimal("19")) == 48  # 47.5 -> 48
    assert tax_on(-250, Decimal("19")) == -48  # away from zero, as a credit mirrors a charge
    assert tax_on(1, Decimal("19")) == 0  # 0.19 -> 0


def test_per_rate_rounding_differs_from_per_line_rounding():
    # 19 %: three lines of 10.02 EUR. Per line: 1.9038 -> 1.90, x3 = 5.70.
    #        Per rate: 30.06 x 0.19 = 5.7114 -> 5.71.
    # 7 %:  two lines of 4.07 EUR. Per line: 0.2849 -> 0.28, x2 = 0.56.
    #        Per rate: 8.14 x 0.07 = 0.5698 -> 0.57.
    lines = [("S", Decimal("19.00"), 1002)] * 3 + [("S", Decimal("7.00"), 407)] * 2
    per_line = sum(tax_on(net, rate) for _, rate, net in lines)
    groups = tax_breakdown(lines)
    assert per_line == 570 + 56
    assert [(g.rate, g.net_minor, g.tax_minor) for g in groups] == [
        (Decimal("19.00"), 3006, 571),
        (Decimal("7.00"), 814, 57),
    ]


def test_mixed_rate_invoice_has_the_en16931_totals(account, make_draft):
    invoice = make_draft(
        account,
        ("Cloud storage", "1", "10.02"),
        ("Cloud storage", "1", "10.02"),
        ("Cloud storage", "1", "10.02"),
        ("Handbook (e-book)", "1", "4.07", "7.00"),
        ("Handbook (e-book)", "1", "4.07", "7.00"),
    )
    invoice = invoice_finalize(invoice=invoice, now=NOW, pdf_mode="deferred")
    assert invoice.net_minor == 3820
    assert invoice.tax_minor == 628  # 5.71 + 0.57; rounding per line would give 6.26
    assert invoice.gross_minor == 4448
    assert invoice.tax_breakdown == [
        {"category": "S", "rate": "19.00", "net_minor": 3006, "tax_minor": 571},
        {"category": "S", "rate": "7.00", "net_minor": 814, "tax_minor": 57},
    ]


def test_a_fixed_rate_unknown_on_the_issue_date_is_refused(account, make_draft):
    from invoices.exceptions import TaxRateMissing

    invoice = make_draft(account, ("Odd", "1", "1.00", "16.00"))
    with pytest.raises(TaxRateMissing):
        invoice_finalize(invoice=invoice, now=NOW, pdf_mode="deferred")
    invoice.refresh_from_db()
    assert invoice.status == "DRAFT" and invoice.number is None


@pytest.mark.parametrize(
    ("tax_status", "category", "tax"),
    [
        ("DOMESTIC", "S", 190),
        ("EU_REVERSE_CHARGE", "AE", 0),
        ("OUTSIDE_EU", "O", 0),
        ("EXEMPT", "E", 0),
    ],
)
def test_category_follows_the_accounts_tax_status(
    make_account, make_draft, tax_status, category, tax
):
    account = make_account(tax_status=tax_status, country="DE" if category == "S" else "FR")
    invoice = make_draft(account, ("Plan", "1", "10.00", "7.00"))
    invoice = invoice_finalize(invoice=invoice, now=NOW, pdf_mode="deferred")
    line = invoice.lines.get()
    # A fixed 7 % line of a domestic invoice keeps 7 %; for others the category decides.
    assert line.tax_category == category
    assert invoice.tax_minor == (70 if category == "S" else tax)


nets = st.lists(
    st.tuples(
        st.sampled_from([Decimal("19.00"), Decimal("7.00"), Decimal("0.00")]),
        st.integers(min_value=-(10**9), max_value=10**12),
    ),
    min_size=1,
    max_size=30,
)


@given(nets)
def test_gross_is_net_plus_tax_for_any_lines(lines):
    groups = tax_breakdown([("S", rate, net) for rate, net in lines])
    net = sum(n for _, n in lines)
    assert sum(g.net_minor for g in groups) == net
    for g in groups:
        assert g.gross_minor == g.net_minor + g.tax_minor
        # within half a minor unit of the exact tax of the group's sum
        assert abs(Decimal(g.tax_minor) - Decimal(g.net_minor) * g.rate / 100) <= Decimal("0.5")
