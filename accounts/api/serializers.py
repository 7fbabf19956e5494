"""Shapes of the accounts API. Business checks (VAT id, currency, country) live in services."""

from rest_framework import serializers

from accounts.models import Account, Contact


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name", "email", "phone", "role"]
        read_only_fields = ["id"]


class AccountSerializer(serializers.ModelSerializer):
    psp_customers = serializers.SerializerMethodField()
    contacts = ContactSerializer(many=True, read_only=True)

    class Meta:
        model = Account
        fields = [
            "id",
            "external_id",
            "legal_name",
            "billing_email",
            "street",
            "postcode",
            "city",
            "region",
            "country",
            "language",
            "currency",
            "vat_id",
            "tax_status",
            "status",
            "status_reason",
            "psp_customers",
            "contacts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_psp_customers(self, account) -> dict[str, str]:
        return {p.provider: p.psp_customer_id for p in account.psp_customers.all()}


class ContactInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.CharField(max_length=254)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    role = serializers.CharField(max_length=60, required=False, allow_blank=True)


class AccountWriteSerializer(serializers.Serializer):
    """Create (all required fields) or PATCH (``partial=True``)."""

    legal_name = serializers.CharField(max_length=200)
    billing_email = serializers.CharField(max_length=254)
    country = serializers.CharField(max_length=10)
    currency = serializers.CharField(max_length=10)
    language = serializers.CharField(max_length=10, required=False)
    street = serializers.CharField(max_length=200, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=20, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    vat_id = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True)
    tax_status = serializers.CharField(max_length=30, required=False)
    external_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True, allow_null=True
    )
    psp_customers = serializers.DictField(
        child=serializers.CharField(max_length=100, allow_null=True), required=False
    )
    contacts = ContactInSerializer(many=True, required=False)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field does not exist."] for name in unknown}
            )
        if self.partial and "contacts" in attrs:
            raise serializers.ValidationError(
                {"contacts": ["Contacts are set when the account is created."]}
            )
        return attrs
