"""Metering API: meters, usage ingestion, voids, and an account's usage preview."""

from __future__ import annotations

import json

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import pagination
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.schema import COMMON_PROBLEMS, problems
from common.exceptions import ValidationFailed
from metering.exceptions import BodyTooLarge, MeterInvalid
from metering.models import Meter
from metering.selectors import account_by_ref, month_bounds, usage_preview
from metering.services import meter_create, usage_events_ingest, usage_events_void

from .serializers import (
    MeterCreateSerializer,
    MeterPageSerializer,
    MeterSerializer,
    UsageEventBatchResultSerializer,
    UsageEventBatchSerializer,
    UsagePreviewSerializer,
    VoidRequestSerializer,
    VoidResultSerializer,
    VoidSerializer,
)

DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024


def _max_body_bytes() -> int:
    return getattr(settings, "METERING_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)


def _read_json_body(request) -> object:
    """The JSON body, refused with 413 above the limit before anything is read or parsed.

    Read from the stream rather than ``request.body``: Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    (2.5 MB) would otherwise refuse a legitimate batch below our own limit.
    """
    limit = _max_body_bytes()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise BodyTooLarge(f"The body is {length} bytes; the limit is {limit} bytes.", limit=limit)
    raw = request._request.read(limit + 1)
    if len(raw) > limit:
        raise BodyTooLarge(f"The body is larger than the limit of {limit} bytes.", limit=limit)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        from rest_framework.exceptions import ParseError

        raise ParseError("The request body is not valid JSON.") from None


def _decimal(value) -> str:
    return format(value.normalize(), "f")


def _actor(request) -> str:
    api_key = getattr(request, "auth", None)
    if api_key is not None and hasattr(api_key, "prefix"):
        return f"api key {api_key.name} ({api_key.prefix})"
    return f"staff {request.user.get_username()}"


class MeterPagination(pagination.CursorPagination):
    ordering = "code"


class MetersView(APIView):
    required_scopes = {"GET": "meters:read", "POST": "meters:write"}
    staff_permissions = {"GET": "metering.view_meter", "POST": "metering.add_meter"}

    @extend_schema(
        operation_id="meter_list",
        summary="List the meters",
        parameters=[
            OpenApiParameter("cursor", str, description="from the previous page's next/previous")
        ],
        responses={200: MeterPageSerializer, **problems(*COMMON_PROBLEMS)},
    )
    def get(self, request):
        paginator = MeterPagination()
        meters = Meter.objects.all()
        if hasattr(Meter, "price"):
            meters = meters.select_related("price")
        page = paginator.paginate_queryset(meters, request, view=self)
        return paginator.get_paginated_response(MeterSerializer(page, many=True).data)

    @extend_schema(
        operation_id="meter_create",
        summary="Create a meter",
        request=MeterCreateSerializer,
        responses={201: MeterSerializer, **problems(400, *COMMON_PROBLEMS, 409, 422)},
    )
    def post(self, request):
        data = MeterCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        price_code = fields.pop("price", None)
        if price_code:
            fields["price"] = _price_by_code(price_code)
        meter = meter_create(**fields)
        return Response(MeterSerializer(meter).data, status=201)


def _price_by_code(code: str):
    from catalog.models import Price

    price = Price.objects.filter(code=code).first()
    if price is None:
        raise MeterInvalid(f"no price with the code {code!r}", field="price")
    return price


class UsageEventsView(APIView):
    required_scopes = {"POST": "usage:write"}

    @extend_schema(
        operation_id="usage_events_ingest",
        summary="Send a batch of usage events (up to 1,000)",
        description=(
            "Each event is stored exactly once per (account, id); the answer says per event, "
            "in request order, whether it was accepted, a duplicate, or rejected (with a code). "
            "A rejected event does not fail the batch."
        ),
        request=UsageEventBatchSerializer,
        responses={
            200: UsageEventBatchResultSerializer,
            **problems(400, *COMMON_PROBLEMS, 413, 422),
        },
    )
    def post(self, request):
        body = _read_json_body(request)
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            raise ValidationFailed('Send {"events": [...]}, a list of usage events.')
        return Response(usage_events_ingest(events=events))


class UsageEventsVoidView(APIView):
    required_scopes = {"POST": "usage:write"}

    @extend_schema(
        operation_id="usage_events_void",
        summary="Void usage events (remove them from billing)",
        request=VoidRequestSerializer,
        responses={200: VoidResultSerializer, **problems(400, *COMMON_PROBLEMS, 422)},
    )
    def post(self, request):
        data = VoidSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            usage_events_void(
                events=data.validated_data["events"],
                reason=data.validated_data["reason"],
                actor=_actor(request),
            )
        )


class AccountUsageView(APIView):
    required_scopes = {"GET": "usage:read"}
    staff_permissions = {"GET": "metering.view_usageevent"}

    @extend_schema(
        operation_id="account_usage",
        summary="An account's usage in a month so far, per meter and day",
        parameters=[
            OpenApiParameter(
                "ref", str, OpenApiParameter.PATH, description="our id, or ext:<external id>"
            ),
            OpenApiParameter(
                "period", str, description="the month, e.g. 2026-10 (default: the current one)"
            ),
        ],
        responses={
            200: OpenApiResponse(UsagePreviewSerializer),
            **problems(*COMMON_PROBLEMS, 404, 422),
        },
    )
    def get(self, request, ref: str):
        account = account_by_ref(ref)
        period = request.query_params.get("period")
        try:
            start, end = month_bounds(period)
        except ValueError:
            raise ValidationFailed("period must be a month, e.g. 2026-10", field="period") from None
        rows = usage_preview(account=account, period_start=start, period_end=end)
        return Response(
            {
                "account": account.pk,
                "period": {"start": start.isoformat(), "end": end.isoformat()},
                "meters": [
                    {
                        "meter": row.meter.code,
                        "name": row.meter.name,
                        "unit": row.meter.unit,
                        "quantity": _decimal(row.quantity),
                        "event_count": row.event_count,
                        "estimated": None
                        if row.estimated is None
                        else {
                            "amount_minor": row.estimated.minor,
                            "currency": row.estimated.currency,
                        },
                        "daily": [
                            {"date": d.isoformat(), "quantity": _decimal(q)} for d, q in row.daily
                        ],
                    }
                    for row in rows
                ],
            }
        )
