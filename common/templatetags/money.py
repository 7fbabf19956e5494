"""``{{ amount_minor|money:currency }}``: an amount formatted for the reader's language."""

from django import template
from django.utils import translation

from common.money import Money

register = template.Library()

_LOCALES = {"de": "de_DE", "en": "en_US"}


@register.filter
def money(amount_minor, currency):
    if amount_minor is None or not currency:
        return ""
    locale = _LOCALES.get((translation.get_language() or "en")[:2], "en_US")
    return Money(int(amount_minor), str(currency)).format(locale)
