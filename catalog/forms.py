"""Admin forms: the same validation the services apply, shown as field errors."""

from __future__ import annotations

from django import forms
from django.forms.models import BaseInlineFormSet

from catalog.models import Plan, Price
from catalog.rating import Tier
from catalog.validation import price_problems, tier_problems
from common.money import is_known_currency


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = ("code", "name", "product", "billing_period", "currency", "active", "trial_days")

    def clean_currency(self):
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if not is_known_currency(currency):
            raise forms.ValidationError(
                f"{currency or 'This'} is not a known ISO 4217 currency code (e.g. EUR)."
            )
        return currency


class PriceForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = (
            "plan",
            "code",
            "description",
            "charge_model",
            "timing",
            "unit_amount",
            "package_size",
            "minimum_amount",
            "unit_label",
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        problems = price_problems(
            charge_model=data.get("charge_model"),
            timing=data.get("timing"),
            unit_amount=data.get("unit_amount"),
            package_size=data.get("package_size"),
            minimum_amount=data.get("minimum_amount"),
            tiers=None,  # checked by the tier formset, which sees the edited tiers
        )
        for name, messages in problems.items():
            self.add_error(name if name in self.fields else None, messages)
        return data


def tiers_from_forms(formset) -> list[Tier]:
    tiers = []
    for form in formset.forms:
        data = getattr(form, "cleaned_data", None)
        if not data or data.get("DELETE"):
            continue
        if data.get("unit_amount") is None and data.get("up_to") is None and not form.has_changed():
            continue
        tiers.append(
            Tier(
                up_to=data.get("up_to"),
                unit_amount=data.get("unit_amount") or 0,
                flat_amount=data.get("flat_amount") or 0,
            )
        )
    return sorted(tiers, key=lambda t: (t.up_to is None, t.up_to or 0))


class PriceTierFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        # Tiers are entered in any order and kept sorted; the checks run on the sorted list.
        messages = tier_problems(
            charge_model=self.instance.charge_model, tiers=tiers_from_forms(self)
        )
        if messages:
            raise forms.ValidationError(messages)
