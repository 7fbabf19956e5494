from django.urls import include, path

from billing_site.urls import urlpatterns as site

urlpatterns = [*site, path("invoices/", include("invoices.urls"))]
