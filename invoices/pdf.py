"""Invoice and credit-note PDFs: a Django template rendered by WeasyPrint.

Every field § 14 Abs. 4 UStG requires is printed: seller and buyer names and addresses, the
seller's VAT id and tax number, the buyer's VAT id (reverse charge), number, issue date, service
period, quantity and description, net per rate, rate and tax per rate, gross, and the legal note
(reverse charge / not taxable here). Amounts come from ``Money.format`` (CLDR), so JPY prints no
decimals and KWD three. The texts are per language below rather than gettext, so a PDF never
depends on compiled message catalogues being deployed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from django.template.loader import render_to_string

from common.money import Money
from invoices.tax import TaxGroup

# WeasyPrint logs every layout step at INFO: seven lines per document in a billing run's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

LOCALES = {"de": "de_DE", "en": "en_US"}

LABELS = {
    "de": {
        "invoice": "Rechnung",
        # Never "Gutschrift": German law reserves that word for self-billing (§ 14 Abs. 2 UStG).
        "credit_note": "Rechnungskorrektur",
        "number": "Rechnungsnummer",
        "credit_note_number": "Nummer der Rechnungskorrektur",
        "corrects": "Korrektur zur Rechnung",
        "issue_date": "Rechnungsdatum",
        "credit_note_date": "Datum",
        "due_date": "Fällig am",
        "service_period": "Leistungszeitraum",
        "customer_vat_id": "USt-IdNr. des Leistungsempfängers",
        "seller_vat_id": "USt-IdNr.",
        "tax_number": "Steuernummer",
        "pos": "Pos.",
        "description": "Beschreibung",
        "period": "Zeitraum",
        "quantity": "Menge",
        "unit_price": "Einzelpreis",
        "net": "Netto",
        "rate": "USt-Satz",
        "net_at_rate": "Nettobetrag zu {rate}",
        "tax_at_rate": "Umsatzsteuer {rate}",
        "total_net": "Summe netto",
        "total_tax": "Summe Umsatzsteuer",
        "total_gross": "Gesamtbetrag brutto",
        "credit_total": "Korrekturbetrag brutto",
        "credit_applied": "Verrechnetes Guthaben",
        "amount_due": "Zahlbetrag",
        "reason": "Grund der Korrektur",
        "adjustment": "Korrektur für",
        "payment": "Bitte überweisen Sie den Zahlbetrag bis zum {date} auf IBAN {iban} "
        "unter Angabe der Rechnungsnummer.",
        "paid_by_credit": "Der Betrag ist durch Ihr Guthaben beglichen.",
    },
    "en": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "number": "Invoice number",
        "credit_note_number": "Credit note number",
        "corrects": "Corrects invoice",
        "issue_date": "Invoice date",
        "credit_note_date": "Date",
        "due_date": "Due date",
        "service_period": "Service period",
        "customer_vat_id": "Customer VAT id",
        "seller_vat_id": "VAT id",
        "tax_number": "Tax number",
        "pos": "Pos.",
        "description": "Description",
        "period": "Period",
        "quantity": "Quantity",
        "unit_price": "Unit price",
        "net": "Net",
        "rate": "VAT rate",
        "net_at_rate": "Net amount at {rate}",
        "tax_at_rate": "VAT {rate}",
        "total_net": "Total net",
        "total_tax": "Total VAT",
        "total_gross": "Total gross",
        "credit_total": "Credit total (gross)",
        "credit_applied": "Customer credit applied",
        "amount_due": "Amount due",
        "reason": "Reason for the correction",
        "adjustment": "Adjustment for",
        "payment": "Please transfer the amount due by {date} to IBAN {iban}, quoting the "
        "invoice number.",
        "paid_by_credit": "This amount is settled by your customer credit.",
    },
}


def language_of(code: str) -> str:
    return code if code in LABELS else "en"


class Formatter:
    def __init__(self, language: str, currency: str) -> None:
        self.language = language_of(language)
        self.locale = LOCALES[self.language]
        self.currency = currency

    def money(self, minor: int) -> str:
        return Money(minor, self.currency).format(self.locale)

    def unit_price(self, amount: Decimal | None) -> str:
        if amount is None:
            return ""  # priced as a whole (tiers, packages): the net says it all
        # At least the currency's places, more when the price has them (0.0004 € per call).
        return format_currency(
            Decimal(amount).normalize(),
            self.currency,
            locale=self.locale,
            currency_digits=True,
            decimal_quantization=False,
        )

    def quantity(self, value: Decimal) -> str:
        normal = Decimal(value).normalize()
        if normal == normal.to_integral_value():
            normal = normal.quantize(Decimal(1))
        return format_decimal(normal, locale=self.locale, decimal_quantization=False)

    def rate(self, rate: Decimal) -> str:
        return format_decimal(Decimal(rate).normalize(), locale=self.locale) + " %"

    def date(self, value: dt.date | dt.datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            value = value.date()
        return format_date(value, "medium", locale=self.locale)

    def period(self, start, end_exclusive) -> str:
        """A half-open period [start, end) as the inclusive dates a reader expects."""
        if start is None or end_exclusive is None:
            return ""
        last = end_exclusive - dt.timedelta(microseconds=1)
        if isinstance(start, dt.datetime):
            start, last = start.date(), last.date()
        return f"{self.date(start)} – {self.date(last)}"


def _groups_view(fmt: Formatter, labels: dict, breakdown: list[dict]) -> list[dict]:
    rows = []
    for group in (TaxGroup.from_dict(g) for g in breakdown):
        rate = fmt.rate(group.rate)
        rows.append(
            {
                "category": group.category,
                "net_label": labels["net_at_rate"].format(rate=rate),
                "tax_label": labels["tax_at_rate"].format(rate=rate),
                "net": fmt.money(group.net_minor),
                "tax": fmt.money(group.tax_minor),
            }
        )
    return rows


def invoice_context(invoice, lines) -> dict:
    language = language_of(invoice.language)
    fmt = Formatter(language, invoice.currency)
    labels = LABELS[language]
    period = ""
    if invoice.service_period_start and invoice.service_period_end:
        period = (
            f"{fmt.date(invoice.service_period_start)} – {fmt.date(invoice.service_period_end)}"
        )
    due = invoice.gross_minor - invoice.credit_applied_minor
    return {
        "kind": "invoice",
        "language": language,
        "labels": labels,
        "title": labels["invoice"],
        "number_label": labels["number"],
        "number": invoice.number,
        "date_label": labels["issue_date"],
        "issue_date": fmt.date(invoice.issue_date),
        "due_date": fmt.date(invoice.due_date),
        "service_period": period,
        "seller": invoice.seller_snapshot,
        "customer": invoice.customer_snapshot,
        "lines": [
            {
                "position": line.position,
                "description": line.description,
                "period": fmt.period(line.period_start, line.period_end),
                "adjustment": fmt.period(line.adjustment_period_start, line.adjustment_period_end),
                "quantity": fmt.quantity(line.quantity),
                "unit_price": fmt.unit_price(line.unit_amount),
                "net": fmt.money(line.net_minor),
                "rate": fmt.rate(line.tax_rate or 0),
            }
            for line in lines
        ],
        "groups": _groups_view(fmt, labels, invoice.tax_breakdown),
        "total_net": fmt.money(invoice.net_minor),
        "total_tax": fmt.money(invoice.tax_minor),
        "total_gross": fmt.money(invoice.gross_minor),
        "total_gross_label": labels["total_gross"],
        "credit_applied": fmt.money(invoice.credit_applied_minor)
        if invoice.credit_applied_minor
        else "",
        "amount_due": fmt.money(due),
        "payment_note": labels["payment"].format(
            date=fmt.date(invoice.due_date), iban=invoice.seller_snapshot.get("iban", "")
        )
        if due > 0
        else labels["paid_by_credit"]
        if invoice.credit_applied_minor
        else "",
        "tax_notes": [n for n in invoice.tax_note.split("\n") if n],
    }


def credit_note_context(credit_note, lines) -> dict:
    language = language_of(credit_note.language)
    fmt = Formatter(language, credit_note.currency)
    labels = LABELS[language]
    invoice = credit_note.invoice
    return {
        "kind": "credit_note",
        "language": language,
        "labels": labels,
        "title": labels["credit_note"],
        "number_label": labels["credit_note_number"],
        "number": credit_note.number,
        "date_label": labels["credit_note_date"],
        "issue_date": fmt.date(credit_note.issue_date),
        "corrects": invoice.number,
        "corrects_date": fmt.date(invoice.issue_date),
        "reason": credit_note.reason,
        "service_period": (
            f"{fmt.date(invoice.service_period_start)} – {fmt.date(invoice.service_period_end)}"
            if invoice.service_period_start and invoice.service_period_end
            else ""
        ),
        "seller": credit_note.seller_snapshot,
        "customer": credit_note.customer_snapshot,
        "lines": [
            {
                "position": line.position,
                "description": line.description,
                "period": "",
                "adjustment": "",
                "quantity": fmt.quantity(line.quantity) if line.quantity is not None else "",
                "unit_price": fmt.unit_price(line.unit_amount)
                if line.unit_amount is not None
                else "",
                "net": fmt.money(-line.net_minor),
                "rate": fmt.rate(line.tax_rate),
            }
            for line in lines
        ],
        "groups": _groups_view(
            fmt,
            labels,
            [
                {**g, "net_minor": -g["net_minor"], "tax_minor": -g["tax_minor"]}
                for g in credit_note.tax_breakdown
            ],
        ),
        "total_net": fmt.money(-credit_note.net_minor),
        "total_tax": fmt.money(-credit_note.tax_minor),
        "total_gross": fmt.money(-credit_note.gross_minor),
        "total_gross_label": labels["credit_total"],
        "credit_applied": "",
        "amount_due": "",
        "payment_note": "",
        "tax_notes": [n for n in credit_note.tax_note.split("\n") if n],
    }


def render_html(context: dict) -> str:
    return render_to_string("invoices/pdf/document.html", context)


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported late: it loads Pango, which is slow to start

    return HTML(string=html).write_pdf()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
