from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from common.money import InvalidAmount, Money
from payments.choices import RefundReason


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount to refund"), min_value=Decimal("0.01"), decimal_places=3
    )
    reason = forms.ChoiceField(label=_("Why"), choices=RefundReason.choices)
    note = forms.CharField(
        label=_("Note for the file (the customer does not see it)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    with_credit_note = forms.BooleanField(
        label=_("Also issue a credit note (the refund is for billed service)"), required=False
    )

    def __init__(self, *args, currency: str, refundable_minor: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.refundable_minor = refundable_minor

    def clean(self):
        data = super().clean()
        amount = data.get("amount")
        if amount is not None:
            try:
                money = Money.from_decimal_exact(amount, self.currency)
            except InvalidAmount as exc:
                self.add_error("amount", str(exc))
                return data
            if money.minor > self.refundable_minor:
                left = Money(self.refundable_minor, self.currency).format()
                self.add_error(
                    "amount", _("At most %(left)s can still be refunded.") % {"left": left}
                )
            data["amount_minor"] = money.minor
        if data.get("reason") == RefundReason.OTHER and not (data.get("note") or "").strip():
            self.add_error("note", _("Say why you refund; the reason is 'Other'."))
        return data


class InvoiceLookupForm(forms.Form):
    invoice = forms.CharField(
        label=_("Invoice number"), max_length=40, help_text=_("As printed, e.g. RE-2026-000123")
    )

    def clean_invoice(self):
        from invoices.choices import InvoiceStatus
        from invoices.models import Invoice

        number = self.cleaned_data["invoice"].strip()
        invoice = Invoice.objects.select_related("account").filter(number__iexact=number).first()
        if invoice is None:
            raise forms.ValidationError(_("There is no invoice with this number."))
        if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
            raise forms.ValidationError(
                _("Invoice %(number)s is %(status)s: it takes no payment.")
                % {"number": invoice.number, "status": invoice.get_status_display().lower()}
            )
        return invoice


class BankTransferForm(InvoiceLookupForm):
    amount = forms.DecimalField(
        label=_("Amount received"), min_value=Decimal("0.001"), decimal_places=3
    )
    reference = forms.CharField(
        label=_("Bank reference (as on the statement)"), max_length=140, strip=True
    )
    received_on = forms.DateField(
        label=_("Date received"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean_received_on(self):
        from django.utils import timezone

        value = self.cleaned_data["received_on"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("The date cannot be in the future."))
        return value

    def clean(self):
        from invoices.selectors import invoice_amount_due

        data = super().clean()
        invoice, amount = data.get("invoice"), data.get("amount")
        if invoice is None or amount is None:
            return data
        try:
            money = Money.from_decimal_exact(amount, invoice.currency)
        except InvalidAmount as exc:
            self.add_error("amount", str(exc))
            return data
        due = invoice_amount_due(invoice)
        if money.minor > due:
            self.add_error(
                "amount",
                _("Only %(due)s is still due on this invoice.")
                % {"due": Money(due, invoice.currency).format()},
            )
        data["amount_minor"] = money.minor
        return data
