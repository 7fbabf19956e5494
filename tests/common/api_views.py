"""Endpoints used only by the API mechanism tests (problem responses, idempotency)."""

import threading

from django.contrib.auth.models import Group
from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.idempotency import idempotent
from common.exceptions import Conflict

release = threading.Event()
release.set()


class ThingSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    quantity = serializers.IntegerField(min_value=1)


class ThingView(APIView):
    required_scopes = {"GET": "accounts:read", "POST": "accounts:write"}

    def get(self, request, pk):
        if pk != 1:
            from django.http import Http404

            raise Http404
        return Response({"id": 1})

    @idempotent
    def post(self, request, pk):
        data = ThingSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["name"] == "taken":
            raise Conflict("A thing named 'taken' exists already.")
        release.wait(10)
        group = Group.objects.create(name=f"thing-{data.validated_data['name']}")
        return Response({"id": group.pk, "name": group.name}, status=201)


urlpatterns = [path("api/v1/things/<int:pk>", ThingView.as_view())]
