"""The site's URLs plus the metering staff screen (the lead mounts it at /metering/)."""

from django.urls import include, path

from billing_site.urls import urlpatterns as site

urlpatterns = [*site, path("metering/", include("metering.urls"))]
