import pytest

from accounts.choices import TaxStatus
from accounts.exceptions import InvalidVatId, UnknownCountry
from accounts.tax import default_tax_status
from accounts.vat import normalise_country, normalise_vat_id


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("DE136695976", "DE", "DE136695976"),
        ("de 136 695 976", "DE", "DE136695976"),
        ("136.695.976", "de", "DE136695976"),
        ("FR 83 448712356", "FR", "FR83448712356"),
        ("NL853746126B01", "NL", "NL853746126B01"),
        ("ATU 571 943 06", "AT", "ATU57194306"),
        ("EL094259216", "GR", "EL094259216"),
        ("GR094259216", "GR", "EL094259216"),
        ("CHE-116.281.710 MWST", "CH", "CHE116281710MWST"),
    ],
)
def test_valid_vat_ids_are_normalised(raw, country, expected):
    assert normalise_vat_id(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country", "says"),
    [
        ("DE136695977", "DE", "check digit"),
        ("FR83448712357", "FR", "check digit"),
        ("DE13669597", "DE", "number of characters"),
        ("DE136695976", "AT", "is from DE"),
        ("FR83448712356", "DE", "is from FR"),
        ("EL094259216", "CY", "is from EL"),
        ("US123456789", "US", "cannot be checked"),
        ("", "DE", "empty"),
    ],
)
def test_invalid_vat_ids_are_refused_with_the_reason(raw, country, says):
    with pytest.raises(InvalidVatId) as info:
        normalise_vat_id(raw, country)
    assert says in info.value.detail
    assert info.value.extra["errors"][0]["field"] == "vat_id"


def test_countries_come_from_cldr():
    assert normalise_country(" de ") == "DE"
    assert normalise_country("KW") == "KW"
    for bad in ("XY", "EU", "DEU", "", None, "001"):
        with pytest.raises(UnknownCountry):
            normalise_country(bad)


@pytest.mark.parametrize(
    ("country", "vat_id", "status"),
    [
        ("DE", "DE136695976", TaxStatus.DOMESTIC),
        ("DE", "", TaxStatus.DOMESTIC),
        ("FR", "FR83448712356", TaxStatus.EU_REVERSE_CHARGE),
        ("FR", "", TaxStatus.DOMESTIC),
        ("US", "", TaxStatus.OUTSIDE_EU),
        ("CH", "CHE116281710MWST", TaxStatus.OUTSIDE_EU),
        ("KW", "", TaxStatus.OUTSIDE_EU),
    ],
)
def test_default_tax_status(country, vat_id, status):
    assert default_tax_status(country, vat_id) == status
