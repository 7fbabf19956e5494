"""WSGI entry point: ``gunicorn billing_site.wsgi``.

PSP webhooks arrive in bursts and need none of the site's middleware (sessions, users, CSRF,
messages, locale, history): ``/webhooks/`` is mounted on a handler of its own that runs only
``WEBHOOK_MIDDLEWARE`` and resolves against ``payments.webhook_urls``. Everything else goes to
Django's usual handler.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.dev")

site = get_wsgi_application()

from django.conf import settings  # noqa: E402 - settings are usable once Django is set up
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.urls import get_script_prefix, set_script_prefix  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

WEBHOOK_PREFIX = "/webhooks"


class WebhookHandler(WSGIHandler):
    """Django's handler with a short middleware chain and the webhook URLs as its root."""

    urlconf = "payments.webhook_urls"

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(settings.WEBHOOK_MIDDLEWARE):
            middleware = import_string(path)(handler)
            # Only plain request/response middleware fits the short chain built here.
            assert not hasattr(middleware, "process_view"), path  # noqa: S101
            assert not hasattr(middleware, "process_exception"), path  # noqa: S101
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler

    def get_response(self, request):
        request.urlconf = self.urlconf
        return super().get_response(request)


webhooks = WebhookHandler()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith(WEBHOOK_PREFIX + "/"):
        # Mount: the prefix moves to SCRIPT_NAME, the rest resolves in the webhook URLs.
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + WEBHOOK_PREFIX
        environ["PATH_INFO"] = path[len(WEBHOOK_PREFIX) :]
        # Django keeps the script prefix per thread; restore it so that URLs reversed later on
        # this thread (outside a request of the site) do not carry the webhook mount.
        previous = get_script_prefix()
        try:
            return webhooks(environ, start_response)
        finally:
            set_script_prefix(previous)
    return site(environ, start_response)
