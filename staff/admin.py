from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from staff.models import ApiKey, ApprovalEvent, ApprovalRequest, RoleLimit
from staff.services import apikey_create, apikey_revoke


@admin.register(RoleLimit)
class RoleLimitAdmin(SimpleHistoryAdmin):
    list_display = ("group", "action", "currency", "amount_minor")
    list_filter = ("action", "group", "currency")
    list_select_related = ("group",)


class ApprovalEventInline(admin.TabularInline):
    model = ApprovalEvent
    extra = 0
    can_delete = False
    readonly_fields = ("kind", "actor", "at", "note")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(SimpleHistoryAdmin):
    list_display = (
        "id",
        "action",
        "summary",
        "amount_minor",
        "currency",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
    )
    list_filter = ("status", "action")
    search_fields = ("summary", "subject_id", "requested_by__username")
    list_select_related = ("requested_by", "decided_by")
    date_hierarchy = "requested_at"
    show_full_result_count = False
    inlines = [ApprovalEventInline]
    readonly_fields = [f.name for f in ApprovalRequest._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(SimpleHistoryAdmin):
    list_display = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    fields = ("name", "scopes", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = apikey_create(
            name=obj.name, scopes=list(obj.scopes or []), created_by=request.user
        )
        obj.pk = key.pk
        obj.prefix = key.prefix
        messages.warning(request, f"Copy this key now, it will not be shown again: {raw}")

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            apikey_revoke(api_key=key)
        self.message_user(request, f"{queryset.count()} key(s) revoked.")

    def has_delete_permission(self, request, obj=None):
        return False
