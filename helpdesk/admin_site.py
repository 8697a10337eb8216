"""The admin site (django.contrib.admin's default, through helpdesk.apps.AdminConfig): a TOTP
code at login for users who have a device, enrolment for superusers when ADMIN_REQUIRE_2FA
is on, and staff sessions that end after a working day.

Failed passwords are throttled by django-axes, in its authentication backend (helpdesk/settings).
"""

from datetime import timedelta
from functools import update_wrapper

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from helpdesk import otp

# What a superuser who must enrol can still reach.
OPEN_TO_ENROL = {"otp_enrol", "logout", "jsi18n"}


class HelpdeskAdminSite(admin.AdminSite):
    site_header = "Helpdesk"
    site_title = "Helpdesk admin"
    login_form = otp.AdminLoginForm
    login_template = "admin/helpdesk/login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        # A session that logged in before its user enrolled a device, elsewhere, is out.
        return super().has_permission(request) and not otp.must_verify(request)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        response = super().login(request, extra_context)
        # A successful login redirects; this is where staff sessions get their own length.
        if request.method == "POST" and response.status_code == 302 and request.user.is_staff:
            expiry = timezone.now() + timedelta(seconds=settings.STAFF_SESSION_SECONDS)
            # A fixed time, not an idle timeout: activity does not stretch the working day.
            request.session.set_expiry(expiry)
        return response

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def enrolled_first(request, *args, **kwargs):
            if self._must_enrol(request):
                return redirect("admin:otp_enrol")
            return inner(request, *args, **kwargs)

        return update_wrapper(enrolled_first, inner)

    def _must_enrol(self, request: HttpRequest) -> bool:
        user = request.user
        return (
            settings.ADMIN_REQUIRE_2FA
            and user.is_active
            and user.is_superuser
            and request.resolver_match.url_name not in OPEN_TO_ENROL
            and otp.confirmed_device(user) is None
        )

    def get_urls(self):
        enrol = path("2fa/", self.admin_view(self.enrol_view), name="otp_enrol")
        return [enrol, *super().get_urls()]

    def enrol_view(self, request: HttpRequest) -> HttpResponse:
        """Set up an authenticator app: scan the code, then confirm with its first code."""
        if otp.confirmed_device(request.user) is not None:
            messages.info(request, "Your authenticator app is already set up.")
            return redirect("admin:index")
        error = ""
        if request.method == "POST":
            if otp.device_confirm(request=request, token=request.POST.get("otp_token", "")):
                messages.success(request, "Your authenticator app is set up.")
                return redirect("admin:index")
            error = "That code did not match. Enter the code your app shows now."
        device = otp.device_unconfirmed(user=request.user)
        context = {
            **self.each_context(request),
            "title": "Set up an authenticator app",
            "uri": device.config_url,
            "qr": otp.qr_svg(device.config_url),
            "error": error,
            "required": settings.ADMIN_REQUIRE_2FA and request.user.is_superuser,
        }
        return TemplateResponse(request, "admin/helpdesk/otp_enrol.html", context)
