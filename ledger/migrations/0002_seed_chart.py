from django.db import migrations


def seed_chart(apps, schema_editor):
    # The fixed numbers live in ledger.chart; the historical model keeps this migration
    # independent of later model changes.
    from ledger.chart import FIXED, PSP_CLEARING_CODES, REVENUE_DEFAULT_CODE

    LedgerAccount = apps.get_model("ledger", "LedgerAccount")
    rows = [(kind, "", number, name, type_) for kind, (number, name, type_) in FIXED.items()]
    rows += [
        ("psp_clearing", p, number, f"Geldtransit {p} (PSP clearing)", "asset")
        for p, number in PSP_CLEARING_CODES.items()
    ]
    rows.append(("revenue", "general", REVENUE_DEFAULT_CODE, "Erlöse general (revenue)", "revenue"))
    for kind, key, number, name, type_ in rows:
        LedgerAccount.objects.get_or_create(
            kind=kind, key=key, defaults={"code": number, "name": name, "type": str(type_)}
        )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunPython(seed_chart, migrations.RunPython.noop)]
