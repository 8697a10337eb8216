"""The language of a page: the customer's, from the browser; the staff's, English.

Django's LocaleMiddleware picks one of LANGUAGES from the Accept-Language header (or the
django_language cookie). The customer's pages (the support page, the widget, the help
centre) ship in those languages (locale/). The admin does not: its own templates are in
English only, and Django's admin chrome in German around them would make a page of two
languages, so under /admin/ the language is always LANGUAGE_CODE.
"""

from django.conf import settings
from django.http import HttpRequest
from django.middleware import locale
from django.utils import translation

# Where helpdesk/urls.py mounts the admin (the insights dashboard included).
STAFF_PREFIX = "/admin/"


class LocaleMiddleware(locale.LocaleMiddleware):
    def process_request(self, request):
        if not request.path_info.startswith(STAFF_PREFIX):
            return super().process_request(request)
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()
        return None


def language_from_headers(headers) -> str:
    """One of LANGUAGES for a socket, from its handshake's Accept-Language header, picked
    by Django's own rule for a page's (LANGUAGE_CODE when none of them is asked for)."""
    request = HttpRequest()
    for name, value in headers:
        if name.lower() == b"accept-language":
            request.META["HTTP_ACCEPT_LANGUAGE"] = value.decode("latin-1")
    return translation.get_language_from_request(request)
