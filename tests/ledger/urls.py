"""Only the screens these tests need (the site's urls include apps still being built)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("staff/", include("staff.urls")),
    path("ledger/", include("ledger.urls")),
    path("admin/", admin.site.urls),
]
