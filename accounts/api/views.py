"""The accounts API for the product: create an account at sign-up, read and update it."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import AccountSerializer, AccountWriteSerializer
from accounts.models import Account
from accounts.services import account_create, account_resolve, account_update
from common.api.authentication import ApiKeyPrincipal
from common.api.idempotency import idempotent
from common.api.schema import COMMON_PROBLEMS, IDEMPOTENCY_KEY, problems

REF = OpenApiParameter(
    "ref", str, OpenApiParameter.PATH, description="our account id, or ext:<external id>"
)


def _actor(request):
    return None if isinstance(request.user, ApiKeyPrincipal) else request.user


def _read(account: Account) -> dict:
    fresh = Account.objects.prefetch_related("contacts", "psp_customers").get(pk=account.pk)
    return AccountSerializer(fresh).data


class AccountCreateView(APIView):
    required_scopes = {"POST": "accounts:write"}
    staff_permissions = {"POST": "accounts.add_account"}

    @extend_schema(
        operation_id="account_create",
        summary="Create an account",
        request=AccountWriteSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: AccountSerializer, **problems(400, *COMMON_PROBLEMS, 409, 422)},
    )
    @idempotent
    def post(self, request):
        serializer = AccountWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = account_create(actor=_actor(request), **serializer.validated_data)
        location = reverse("api:account-detail", kwargs={"ref": account.pk})
        return Response(_read(account), status=201, headers={"Location": location})


class AccountDetailView(APIView):
    """``{ref}`` is our id or ``ext:<external id>``."""

    required_scopes = {"GET": "accounts:read", "PATCH": "accounts:write"}
    staff_permissions = {"GET": "accounts.view_account", "PATCH": "accounts.change_account"}

    @extend_schema(
        operation_id="account_retrieve",
        summary="Read an account",
        parameters=[REF],
        responses={200: AccountSerializer, **problems(*COMMON_PROBLEMS, 404)},
    )
    def get(self, request, ref: str):
        return Response(_read(account_resolve(ref)))

    @extend_schema(
        operation_id="account_update",
        summary="Change some fields of an account",
        parameters=[REF],
        request=AccountWriteSerializer,
        responses={200: AccountSerializer, **problems(400, *COMMON_PROBLEMS, 404, 409, 422)},
    )
    def patch(self, request, ref: str):
        account = account_resolve(ref)
        serializer = AccountWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        account = account_update(
            account=account, actor=_actor(request), **serializer.validated_data
        )
        return Response(_read(account))
