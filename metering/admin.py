"""Records screens for meters and usage events (the event table has tens of millions of rows).

The event changelist is ``common.admin.FastAdminMixin``: estimated or capped counts, keyset
paging by ``-id``; the meter filter has its ``(meter_id, -id)`` index.
Search takes an account (``123`` or ``ext:org_42``), optionally followed by an event id; both
are served by the unique (account_id, event_id) index.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render
from simple_history.admin import SimpleHistoryAdmin

from accounts.models import Account
from common.admin import FastAdminMixin
from metering.models import Meter, UsageEvent
from metering.selectors import month_bounds
from metering.services import usage_events_void


@admin.register(Meter)
class MeterAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "unit", "aggregation", "value_property", "price_display"]
    list_filter = ["aggregation"]
    search_fields = ["code", "name"]
    readonly_fields = ["created_at", "updated_at"]

    def get_list_select_related(self, request):
        return ["price"] if hasattr(Meter, "price") else []

    @admin.display(description="price")
    def price_display(self, meter):
        return getattr(meter, "price", None) or "—"


class PeriodFilter(admin.SimpleListFilter):
    title = "period (UTC month)"
    parameter_name = "period"

    def lookups(self, request, model_admin):
        now = datetime.now(UTC)
        months = []
        year, month = now.year, now.month
        for _ in range(12):
            months.append((f"{year:04d}-{month:02d}", f"{year:04d}-{month:02d}"))
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return months

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            start, end = month_bounds(self.value())
        except ValueError:
            return queryset.none()
        return queryset.filter(ts__gte=start, ts__lt=end)


class VoidForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


@admin.register(UsageEvent)
class UsageEventAdmin(FastAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "account", "meter", "ts", "quantity", "received_at", "voided_at"]
    list_filter = ["meter", PeriodFilter]
    list_select_related = ["account", "meter"]
    search_fields = ["event_id"]  # handled by get_search_results
    search_help_text = "An account (123 or ext:org_42), optionally followed by an event id."
    ordering = ["-id"]
    list_per_page = 50
    actions = ["void_events"]
    readonly_fields = [f.name for f in UsageEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        from metering.ingest import account_key

        parts = search_term.split()
        if not parts:
            return queryset, False
        key = account_key(parts[0])
        account_id = None
        if key is not None and key[0] == "id":
            account_id = key[1]
        elif key is not None:
            account_id = (
                Account.objects.filter(external_id=key[1]).values_list("pk", flat=True).first()
            )
        if account_id is None:
            return queryset.none(), False
        queryset = queryset.filter(account_id=account_id)
        if len(parts) > 1:
            queryset = queryset.filter(event_id=" ".join(parts[1:]))
        return queryset, False

    @admin.action(description="Void the selected events (remove them from billing)")
    def void_events(self, request, queryset):
        if not request.user.has_perm("metering.void_usageevent"):
            self.message_user(request, "Your role may not void usage.", messages.ERROR)
            return None
        form = VoidForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            events = [
                {"account": a, "id": e}
                for a, e in queryset.values_list("account_id", "event_id")[:1000]
            ]
            result = usage_events_void(
                events=events,
                reason=form.cleaned_data["reason"],
                actor=f"staff {request.user.get_username()}",
            )
            self.message_user(
                request,
                f"{result['voided']} voided, {result['already_voided']} were voided already.",
            )
            return None
        return render(
            request,
            "metering/void_confirm.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "events": queryset[:1000],
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "opts": self.model._meta,
            },
        )
