"""PDFs: every legally required field, the customer's language, correct minor units, stored once."""

import io
from decimal import Decimal

from pypdf import PdfReader

from invoices.selectors import credit_note_pdf_bytes, invoice_pdf_bytes
from invoices.services import credit_note_issue, invoice_finalize
from tests.invoices.conftest import NOW


def _text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


def _final(invoice):
    return invoice_finalize(invoice=invoice, now=NOW, pdf_mode="deferred")


def test_german_invoice_has_every_field_of_section_14_ustg(make_account, make_draft):
    account = make_account(
        legal_name="Bäckerei Schmidt GmbH",
        street="Marienplatz 1",
        postcode="80331",
        city="München",
        vat_id="DE811569869",
    )
    invoice = make_draft(account, ("Cluster-Stunden", "1250.5", "0.08"))
    invoice.service_period_start = None
    invoice = _final(invoice)
    text = _text(invoice_pdf_bytes(invoice))
    for expected in [
        "Rechnung",
        invoice.number,
        "Nimbus Cloud GmbH",
        "Friedrichstraße 68",
        "10117 Berlin",
        "DE136695976",
        "30/123/45678",
        "Bäckerei Schmidt GmbH",
        "Marienplatz 1",
        "80331 München",
        "Rechnungsdatum",
        "10.03.2026",
        "Cluster-Stunden",
        "1.250,5",
        "100,04 €",
        "Nettobetrag zu 19 %",
        "Umsatzsteuer 19 %",
        "19,01 €",
        "119,05 €",
    ]:
        assert expected in text, expected
    assert "Gutschrift" not in text


def test_reverse_charge_invoice_in_english_names_the_buyer_vat_id_and_the_note(
    make_account, make_draft
):
    account = make_account(
        legal_name="Boulangerie SAS",
        country="FR",
        language="en",
        tax_status="EU_REVERSE_CHARGE",
        vat_id="FR40303265045",
    )
    invoice = _final(make_draft(account, ("Cluster hours", "10", "2.50")))
    text = _text(invoice_pdf_bytes(invoice))
    assert "Invoice" in text and "FR40303265045" in text
    assert "Reverse charge: VAT to be accounted for by the recipient" in text
    assert "Art. 196 Council Directive 2006/112/EC" in text
    assert "€25.00" in text and invoice.tax_minor == 0


def test_outside_eu_note(make_account, make_draft):
    account = make_account(country="US", language="de", tax_status="OUTSIDE_EU", currency="USD")
    invoice = _final(make_draft(account, ("Cluster", "1", "10")))
    assert "Nicht im Inland steuerbar (§ 3a Abs. 2 UStG)." in _text(invoice_pdf_bytes(invoice))


def test_jpy_invoice_has_no_minor_digits_end_to_end(make_account, make_draft):
    account = make_account(country="JP", language="en", tax_status="OUTSIDE_EU", currency="JPY")
    invoice = _final(make_draft(account, ("GPU hours", "3", "1234.5")))  # 3703.5 -> 3704
    assert invoice.gross_minor == 3704
    text = _text(invoice_pdf_bytes(invoice))
    assert "¥3,704" in text and "¥3,704.00" not in text
    assert "¥1,234.5" in text  # the unit price keeps its precision


def test_kwd_invoice_has_three_minor_digits_end_to_end(make_account, make_draft):
    account = make_account(country="DE", language="de", tax_status="DOMESTIC", currency="KWD")
    invoice = _final(make_draft(account, ("Storage", "1", "10.0005")))  # 10.0005 -> 10.001
    assert (invoice.net_minor, invoice.tax_minor, invoice.gross_minor) == (10001, 1900, 11901)
    text = _text(invoice_pdf_bytes(invoice))
    assert "10,001 KWD" in text and "1,900 KWD" in text and "11,901 KWD" in text


def test_the_pdf_is_rendered_once_and_downloads_the_same_bytes(
    account, make_draft, client, accountant, settings
):
    settings.ROOT_URLCONF = "tests.invoices.urls"
    invoice = _final(make_draft(account, ("Seat", "1", "10")))
    first = invoice_pdf_bytes(invoice)
    invoice.refresh_from_db()
    sha = invoice.pdf_sha256
    client.force_login(accountant)
    response = client.get(f"/invoices/{invoice.pk}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content == first
    assert client.get(f"/invoices/{invoice.pk}/pdf").content == first
    invoice.refresh_from_db()
    assert invoice.pdf_sha256 == sha


def test_the_download_needs_the_view_permission(account, make_draft, client, make_staff, settings):
    settings.ROOT_URLCONF = "tests.invoices.urls"
    invoice = _final(make_draft(account, ("Seat", "1", "10")))
    client.force_login(make_staff("nobody"))
    assert client.get(f"/invoices/{invoice.pk}/pdf").status_code == 403


def test_credit_note_pdf_is_a_rechnungskorrektur(account, make_draft):
    invoice = _final(make_draft(account, ("Seat", "2", "10")))
    note = credit_note_issue(
        invoice=invoice, reason="Doppelt berechnet", amount_minor=1190, now=NOW, pdf_mode="deferred"
    )
    text = _text(credit_note_pdf_bytes(note))
    assert "Rechnungskorrektur" in text and note.number in text and invoice.number in text
    assert "Doppelt berechnet" in text and "-11,90 €" in text.replace("−", "-")
    assert "Gutschrift" not in text
    assert Decimal(note.gross_minor) == 1190
