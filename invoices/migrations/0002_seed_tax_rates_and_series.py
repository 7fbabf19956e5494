"""Seed the VAT rates (with their legal notes) and the two number series."""

import datetime as dt
from decimal import Decimal

from django.db import migrations

RATES = [
    # category, rate, valid_from, name, note_de, note_en
    ("S", Decimal("19.00"), dt.date(2007, 1, 1), "Umsatzsteuer 19 %", "", ""),
    ("S", Decimal("7.00"), dt.date(2007, 1, 1), "Umsatzsteuer 7 % (ermäßigt)", "", ""),
    (
        "AE",
        Decimal("0.00"),
        dt.date(2010, 1, 1),
        "Reverse charge",
        "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge).",
        "Reverse charge: VAT to be accounted for by the recipient "
        "(Art. 196 Council Directive 2006/112/EC).",
    ),
    (
        "O",
        Decimal("0.00"),
        dt.date(2010, 1, 1),
        "Nicht steuerbar",
        "Nicht im Inland steuerbar (§ 3a Abs. 2 UStG).",
        "Not taxable in Germany (place of supply outside Germany, § 3a UStG).",
    ),
    (
        "E",
        Decimal("0.00"),
        dt.date(2010, 1, 1),
        "Steuerfrei",
        "Steuerfreie Leistung (§ 4 UStG).",
        "VAT exempt supply (§ 4 UStG).",
    ),
]

SERIES = [
    ("RE", "Rechnungen / invoices", "RE-{year}-{seq:06d}"),
    ("CN", "Rechnungskorrekturen / credit notes", "CN-{year}-{seq:06d}"),
]


def seed(apps, schema_editor):
    TaxRate = apps.get_model("invoices", "TaxRate")
    NumberSeries = apps.get_model("invoices", "NumberSeries")
    for category, rate, valid_from, name, note_de, note_en in RATES:
        TaxRate.objects.get_or_create(
            category=category,
            country="DE",
            rate=rate,
            valid_from=valid_from,
            defaults={"name": name, "note_de": note_de, "note_en": note_en},
        )
    for code, name, fmt in SERIES:
        NumberSeries.objects.get_or_create(code=code, defaults={"name": name, "format": fmt})


class Migration(migrations.Migration):
    dependencies = [("invoices", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
