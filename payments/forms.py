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
