from rest_framework import serializers

from metering.choices import Aggregation
from metering.models import Meter


class MeterSerializer(serializers.ModelSerializer):
    price = serializers.SerializerMethodField()

    class Meta:
        model = Meter
        fields = [
            "code",
            "name",
            "unit",
            "aggregation",
            "value_property",
            "unique_property",
            "filters",
            "price",
            "created_at",
        ]

    def get_price(self, meter) -> str | None:
        price = getattr(meter, "price", None)
        return getattr(price, "code", None)


class MeterCreateSerializer(serializers.Serializer):
    code = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=40)
    aggregation = serializers.ChoiceField(choices=Aggregation.choices)
    value_property = serializers.CharField(max_length=100, required=False, allow_blank=True)
    unique_property = serializers.CharField(max_length=100, required=False, allow_blank=True)
    filters = serializers.DictField(required=False)
    price = serializers.CharField(
        max_length=100, required=False, allow_null=True, help_text="catalog price code"
    )


class VoidSerializer(serializers.Serializer):
    events = serializers.ListField(child=serializers.DictField(), allow_empty=False)
    reason = serializers.CharField(max_length=1000)
