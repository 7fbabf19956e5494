from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from billing_site.api_urls import api_v1
from common.views import healthz

handler404 = "common.views.not_found"
handler500 = "common.views.server_failure"

admin.site.site_header = "Paydesk records"
admin.site.site_title = "Paydesk"
admin.site.index_title = "Records"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="staff:home", permanent=False)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("staff/", include("staff.urls")),
    path("ledger/", include("ledger.urls")),
    path("metering/", include("metering.urls")),
    path("invoices/", include("invoices.urls")),
    path("payments/", include("payments.urls")),
    path("webhooks/", include("payments.webhook_urls")),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include((api_v1(), "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
