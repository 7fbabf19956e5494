import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    MAX_DAYS = 3660

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end date is before the start date."))
            if (end - start) > dt.timedelta(days=self.MAX_DAYS):
                raise forms.ValidationError(_("Export at most ten years at once."))
        return data


class AsOfForm(forms.Form):
    as_of = forms.DateField(
        label=_("As of"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
