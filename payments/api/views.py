"""``GET /api/v1/payments/{id}`` and ``POST /api/v1/payments/{id}/refunds``.

A refund through an API key is made on behalf of the staff member who created the key: their
role's permission and refund limit apply, and above the limit the refund waits for approval
(answered 202 with the approval id).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.authentication import ApiKeyPrincipal
from common.api.idempotency import idempotent
from common.api.schema import COMMON_PROBLEMS, IDEMPOTENCY_KEY, problems
from common.exceptions import PermissionDenied
from payments.api.serializers import PaymentSerializer, RefundCreateSerializer, RefundSerializer
from payments.choices import RefundStatus
from payments.exceptions import PaymentNotFound
from payments.models import Payment
from payments.refunds import refund_request


def _actor(request):
    if isinstance(request.user, ApiKeyPrincipal):
        owner = request.user.api_key.created_by
        if owner is None:
            raise PermissionDenied("This API key has no owner who could answer for refunds.")
        return owner
    return request.user


def _payment(pk: int) -> Payment:
    payment = Payment.objects.filter(pk=pk).first()
    if payment is None:
        raise PaymentNotFound(f"There is no payment {pk}.")
    return payment


PAYMENT_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="the payment id")


class PaymentDetailView(APIView):
    required_scopes = {"GET": "payments:read"}
    staff_permissions = {"GET": "payments.view_payment"}

    @extend_schema(
        operation_id="payment_retrieve",
        summary="Read a payment",
        parameters=[PAYMENT_ID],
        responses={200: PaymentSerializer, **problems(*COMMON_PROBLEMS, 404)},
    )
    def get(self, request, pk: int):
        return Response(PaymentSerializer(_payment(pk)).data)


class RefundCreateView(APIView):
    required_scopes = {"POST": "payments:write"}
    staff_permissions = {"POST": "payments.issue_refund"}

    @extend_schema(
        operation_id="payment_refund_create",
        summary="Refund a payment, fully or in part",
        parameters=[PAYMENT_ID, IDEMPOTENCY_KEY],
        request=RefundCreateSerializer,
        responses={
            201: OpenApiResponse(RefundSerializer, description="The refund is on its way."),
            202: OpenApiResponse(
                RefundSerializer,
                description="Above the key owner's refund limit: the refund waits for approval "
                "(status AWAITING_APPROVAL, see approval_id).",
            ),
            **problems(400, *COMMON_PROBLEMS, 404, 409, 422, 503),
        },
    )
    @idempotent
    def post(self, request, pk: int):
        serializer = RefundCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        refund = refund_request(
            payment=_payment(pk),
            amount_minor=data["amount_minor"],
            reason=data["reason"],
            note=data["note"],
            with_credit_note=data["with_credit_note"],
            actor=_actor(request),
        )
        status = 202 if refund.status == RefundStatus.AWAITING_APPROVAL else 201
        return Response(RefundSerializer(refund).data, status=status)
