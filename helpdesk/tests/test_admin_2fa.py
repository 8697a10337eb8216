"""The admin's second factor (helpdesk/otp.py, helpdesk/admin_site.py): a code from the
user's TOTP device at login once they have one, and with ADMIN_REQUIRE_2FA, enrolment
before a superuser can do anything else in the admin."""

import re
import time
from base64 import b32encode
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpdesk.tests.test_csp import INLINE

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-admin-password"


@pytest.fixture
def superuser():
    return User.objects.create_superuser("boss", "boss@example.com", PASSWORD)


@pytest.fixture
def device(superuser):
    return TOTPDevice.objects.create(user=superuser, name="phone", confirmed=True)


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """What the user's authenticator app shows now (or that many steps later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def log_in(client, password: str = PASSWORD, token: str = ""):
    data = {"username": "boss", "password": password, "otp_token": token, "next": "/admin/"}
    return client.post("/admin/login/", data)


def test_a_superuser_with_a_device_cannot_log_in_without_a_code(client, device):
    response = log_in(client)

    assert response.status_code == 200
    assert "Enter the current code from your authenticator app." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_a_wrong_code_is_refused(client, device):
    wrong = f"{(int(code(device)) + 1) % 1_000_000:06d}"

    assert log_in(client, token=wrong).status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_current_code_logs_the_superuser_in(client, device):
    response = log_in(client, token=code(device))

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_session_that_never_passed_the_device_is_sent_back_to_log_in(client, device):
    # Logged in by password alone, as a session made before the device was enrolled was.
    client.force_login(device.user)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_a_device_log_in_with_the_password_alone(client, superuser):
    assert log_in(client).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_with_2fa_required_a_superuser_without_a_device_is_sent_to_enrol(
    client, settings, superuser
):
    settings.ADMIN_REQUIRE_2FA = True
    assert log_in(client).status_code == 302

    for url in ("/admin/", "/admin/tickets/ticket/", "/admin/auth/user/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == "/admin/2fa/", url
    assert client.post("/admin/logout/").status_code == 200


def test_a_superuser_enrols_with_the_first_code_and_then_gets_in(client, settings, superuser):
    settings.ADMIN_REQUIRE_2FA = True
    log_in(client)

    page = client.get("/admin/2fa/")
    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    assert not INLINE.search(page.content.decode())  # nothing for the CSP to block
    uri = unescape(re.search(r"<code>(otpauth://[^<]+)</code>", page.content.decode())[1])
    device = TOTPDevice.objects.get(user=superuser, confirmed=False)
    # The address the app scans holds the device's own secret.
    assert parse_qs(urlsplit(uri).query)["secret"] == [b32encode(device.bin_key).decode()]

    assert client.post("/admin/2fa/", {"otp_token": "000000"}).status_code == 200
    # django-otp's throttle: after a wrong code the device refuses any code for a second.
    time.sleep(1.1)
    confirmed = client.post("/admin/2fa/", {"otp_token": code(device)})

    assert confirmed.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code == 200
    # The next login asks for a code, a newer one than the one used to enrol.
    client.logout()
    assert log_in(client).status_code == 200
    assert log_in(client, token=code(device, steps_ahead=1)).status_code == 302


def test_without_2fa_required_a_superuser_without_a_device_may_use_the_admin(client, superuser):
    log_in(client)

    assert client.get("/admin/").status_code == 200
