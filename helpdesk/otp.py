"""The admin's second factor: one TOTP device (django-otp) per staff user, optional for staff
and, with ADMIN_REQUIRE_2FA, required of superusers (helpdesk/admin_site.py).

A user enrols by scanning the otpauth URI into an authenticator app and typing its first
code; from then on every admin login asks for a code.
"""

import django_otp
import segno
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.db import transaction
from django.http import HttpRequest
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def must_verify(request: HttpRequest) -> bool:
    """Has this user a device that this session has not passed (OTPMiddleware)?"""
    if request.user.is_verified():
        return False
    # Asked several times a page (each admin view, each_context): one query per request.
    if not hasattr(request, "_otp_must_verify"):
        request._otp_must_verify = confirmed_device(request.user) is not None
    return request._otp_must_verify


def session_passed(*, user, session) -> bool:
    """Would the admin let this session in, as far as the second factor goes? Asked by the
    staff socket (tickets/consumers.py, handed this by helpdesk/asgi.py), which has no
    OTPMiddleware: a user with a device must have passed it in this session, and with
    ADMIN_REQUIRE_2FA a superuser without one may only enrol."""
    if confirmed_device(user) is None:
        return not (settings.ADMIN_REQUIRE_2FA and user.is_superuser)
    persistent_id = session.get(django_otp.DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


def device_unconfirmed(*, user) -> TOTPDevice:
    """The device being enrolled: the same secret on every reload until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=False)


def device_confirm(*, request: HttpRequest, token: str) -> bool:
    """Confirm the user's device being enrolled with its first code, and count this
    session as verified by it (the user has just proved they hold it)."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=request.user, confirmed=False)
            .first()
        )
        # verify_token also throttles wrong codes (OTP_TOTP_THROTTLE_FACTOR).
        if device is None or not device.verify_token(token):
            return False
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    django_otp.login(request, device)
    return True


def qr_svg(uri: str) -> str:
    # Inline SVG: no image request, no style attribute for the CSP to block, and a white
    # background so the code still scans on the admin's dark theme.
    return segno.make(uri, error="m").svg_inline(scale=4, light="#fff")


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login: username and password, then a code from the user's device if
    they have one. Users without one log in with the password alone (ADMIN_REQUIRE_2FA
    sends superusers among them to enrol)."""

    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=8,
        help_text="Only if you have set up an authenticator app.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        cleaned_data = super().clean()
        user = self.get_user()
        device = confirmed_device(user)
        if device is None:
            return cleaned_data
        token = cleaned_data.get("otp_token", "").strip()
        with transaction.atomic():
            device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
            # verify_token throttles: each wrong code doubles the wait before the next try.
            verified = bool(token) and device.verify_token(token)
        if not verified:
            raise forms.ValidationError(
                "Enter the current code from your authenticator app.", code="invalid_token"
            )
        # django_otp.login (run on Django's user_logged_in) keeps it in the session.
        user.otp_device = device
        return cleaned_data
