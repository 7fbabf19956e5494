"""Demo customers: German, EU and non-EU businesses in EUR, USD, GBP, CHF, JPY and KWD.

VAT ids carry valid check digits (made up, not real companies' ids). Idempotent by external id.
"""

from __future__ import annotations

import datetime as dt

from accounts.models import Account
from accounts.services import account_create

CREATED_AT = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)

# external_id, legal name, email, street, postcode, city, country, language, currency, VAT id,
# stripe customer id (or ""), contacts
# fmt: off
CUSTOMERS: list[tuple] = [
    ("org_7f3a91c2", "Brandt & Söhne Logistik GmbH", "rechnung@brandt-logistik.example",
     "Hafenstraße 12", "20457", "Hamburg", "DE", "de", "EUR", "DE281734070", "cus_Q1brandt0001",
     [("Katrin Brandt", "k.brandt@brandt-logistik.example", "+49 40 5550101", "billing")]),
    ("org_2b8e44d0", "Kieselgrau Software GmbH", "buchhaltung@kieselgrau.example",
     "Torstraße 140", "10119", "Berlin", "DE", "de", "EUR", "DE281734140", "cus_Q1kiesel0002",
     [("Jonas Weber", "jonas@kieselgrau.example", "", "technical"),
      ("Miriam Ott", "finanzen@kieselgrau.example", "+49 30 5550199", "billing")]),
    ("org_c41d07aa", "Alpenglühen Medien GmbH", "ap@alpengluehen.example",
     "Leopoldstraße 28", "80802", "München", "DE", "en", "EUR", "DE281734182", "",
     [("Sebastian Huber", "s.huber@alpengluehen.example", "", "billing")]),
    ("org_5e9f2b13", "Atelier Lumière SAS", "factures@atelier-lumiere.example",
     "14 rue de la Roquette", "75011", "Paris", "FR", "en", "EUR", "FR83448712356",
     "cus_Q1lumier0004", [("Claire Moreau", "claire@atelier-lumiere.example", "", "billing")]),
    ("org_88a0c6f5", "Tulpenveld Data B.V.", "finance@tulpenveld.example",
     "Keizersgracht 221", "1016 DV", "Amsterdam", "NL", "en", "EUR", "NL853746126B01",
     "cus_Q1tulpen0005", [("Daan de Vries", "daan@tulpenveld.example", "", "billing")]),
    ("org_1d3c5e7a", "Donaublick Consulting GmbH", "office@donaublick.example",
     "Praterstraße 9", "1020", "Wien", "AT", "de", "EUR", "ATU57194306", "",
     [("Eva Gruber", "eva.gruber@donaublick.example", "+43 1 5550123", "billing")]),
    ("org_9b7d2f40", "Officina Verde S.r.l.", "amministrazione@officinaverde.example",
     "Via Tortona 31", "20144", "Milano", "IT", "en", "EUR", "IT12345670017", "cus_Q1verde00007",
     [("Giulia Romano", "giulia@officinaverde.example", "", "billing")]),
    ("org_46e1a8b9", "Mirador Analítica S.L.", "facturas@mirador.example",
     "Calle de Alcalá 85", "28009", "Madrid", "ES", "en", "EUR", "ESB85640001", "",
     [("Javier López", "javier@mirador.example", "", "billing")]),
    ("org_f02c9d61", "Harborline Robotics Inc.", "ap@harborline.example",
     "500 Howard Street", "94105", "San Francisco", "US", "en", "USD", "", "cus_Q1harbor0009",
     [("Emily Chen", "emily.chen@harborline.example", "+1 415 5550142", "billing")]),
    ("org_3a6b8c2e", "Thistle & Finch Ltd", "accounts@thistlefinch.example",
     "22 Bevis Marks", "EC3A 7JB", "London", "GB", "en", "GBP", "", "cus_Q1thistl0010",
     [("Oliver Hughes", "oliver@thistlefinch.example", "", "billing")]),
    ("org_d5e7f901", "Gletscherweg Systems AG", "kreditoren@gletscherweg.example",
     "Bahnhofstrasse 44", "8001", "Zürich", "CH", "de", "CHF", "", "",
     [("Reto Keller", "reto.keller@gletscherweg.example", "", "billing")]),
    ("org_6c4a2e88", "Sakura Cloudworks K.K.", "keiri@sakura-cloudworks.example",
     "2-11-3 Meguro", "153-0063", "Tokyo", "JP", "en", "JPY", "", "cus_Q1sakura0012",
     [("Haruto Sato", "h.sato@sakura-cloudworks.example", "", "billing")]),
    ("org_b19e3d57", "Al Noor Trading Co. W.L.L.", "finance@alnoor-trading.example",
     "Al Shuhada Street, Block 7", "13001", "Kuwait City", "KW", "en", "KWD", "", "",
     [("Fatima Al-Sabah", "fatima@alnoor-trading.example", "", "billing")]),
]
# fmt: on


def seed(*, out) -> None:
    existing = set(
        Account.objects.filter(external_id__in=[c[0] for c in CUSTOMERS]).values_list(
            "external_id", flat=True
        )
    )
    created = 0
    for index, row in enumerate(CUSTOMERS):
        (
            ext,
            name,
            email,
            street,
            postcode,
            city,
            country,
            language,
            currency,
            vat_id,
            stripe_id,
            contacts,
        ) = row
        if ext in existing:
            continue
        account_create(
            now=CREATED_AT + dt.timedelta(days=7 * index),
            external_id=ext,
            legal_name=name,
            billing_email=email,
            street=street,
            postcode=postcode,
            city=city,
            country=country,
            language=language,
            currency=currency,
            vat_id=vat_id,
            psp_customers={"stripe": stripe_id} if stripe_id else {},
            contacts=[
                {"name": c_name, "email": c_email, "phone": phone, "role": role}
                for c_name, c_email, phone, role in contacts
            ],
        )
        created += 1
    out.write(f"accounts: {created} demo customers created ({len(CUSTOMERS)} in the set)")
